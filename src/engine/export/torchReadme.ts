/**
 * The README.md of a run exported for PyTorch (torchExport.ts): what the folder holds, how to train it on
 * one GPU, several, several machines, and how LLM Lens follows it.
 *
 *   torchReadme({ name: 'tiny-torch', from: '.llmlens/runs/tiny-1', params: 818_816, model, train, rows: 12, command })
 */

export interface ReadmeFacts {
  name: string;
  from: string;
  params: number;
  model: {
    vocabSize: number;
    blockSize: number;
    nLayer: number;
    nHead: number;
    nEmbd: number;
    bias: boolean;
  };
  train: Record<string, unknown>;
  /** Rows per optimizer step (batchSize × gradAccum). */
  rows: number;
  /** The checkpoint the run starts from, and whether it continues its run. */
  start?: { dir: string; resume: boolean; step?: number };
  command: string;
}

/** Where the run starts, in a sentence. */
function startLine(s: ReadmeFacts['start'], seed: unknown): string {
  if (!s) return `It starts from GPT-2 initialisation (seed \`${String(seed)}\`).`;
  if (!s.resume)
    return `It starts from the weights of \`${s.dir}\` (copied into \`init/\`) with a new optimizer.`;
  return `It continues from step ${s.step ?? '?'} of \`${s.dir}\` (copied into \`init/\`): weights, AdamW moments and the learning-rate schedule.`;
}

export function torchReadme(f: ReadmeFacts): string {
  const m = f.model;
  const t = f.train;
  const start = startLine(f.start, t.seed);
  return `# ${f.name}: an LLM Lens run, for PyTorch

Exported by \`llm-lens export-torch\` from \`${f.from}\`. ${start}

- Model: GPT-2, ${m.nLayer} layers, ${m.nHead} heads, ${m.nEmbd} wide, context ${m.blockSize}, vocabulary ${m.vocabSize}${m.bias ? '' : ', no biases'}: ${f.params.toLocaleString('en-US')} parameters.
- Steps: ${String(t.maxIters)} of ${f.rows} rows × ${m.blockSize} tokens (batchSize ${String(t.batchSize)} × gradAccum ${String(t.gradAccum)}), whatever the number of processes.
- AdamW lr ${String(t.lr)} → ${String(t.minLr)} (warmup ${String(t.warmupIters)}, cosine to step ${String(t.lrDecayIters)}${t.decayLr ? '' : ', decay off: constant'}), betas (${String(t.beta1)}, ${String(t.beta2)}), weight decay ${String(t.weightDecay)} on 2-D weights, gradient clip ${String(t.gradClip)}.
- Eval every ${String(t.evalInterval)} steps (${String(t.evalIters)} batches), samples every ${String(t.sampleInterval)}, checkpoints every ${String(t.checkpointInterval)} (the last ${String(t.keepCheckpoints)} and the best kept).

| File | What |
| --- | --- |
| \`train.py\` | the whole trainer: model, data, AdamW, DDP, logging, checkpoints (torch + numpy) |
| \`run.json\` | the run: model, hyperparameters, data; train.py's flags override a few (\`python3 train.py --help\`) |
| \`data/\` | \`train.bin\`, \`val.bin\` (nanoGPT token files), \`meta.json\`, \`tokens.json\` (each id's bytes) |
| \`tokenizer/\` | the tokenizer, copied into every checkpoint |
| \`run.sh\` | \`${f.command}\` |

## Train

One GPU (or the CPU):

    ./run.sh

All 8 GPUs of a machine (DistributedDataParallel, NCCL; gloo on CPU):

    NPROC=8 ./run.sh

Several machines: the same folder on each (or on a shared disk), then on every node:

    torchrun --nnodes 2 --nproc_per_node 8 --node_rank R --rdzv_backend c10d \\
      --rdzv_endpoint HOST0:29500 --rdzv_id ${f.name} train.py

with R = 0, 1, … and HOST0 the first node. On a Slurm cluster put that line in an \`srun\` step with
\`--node_rank $SLURM_NODEID\` and \`HOST0=$(scontrol show hostnames $SLURM_JOB_NODELIST | head -n1)\`.
Rank 0 writes \`metrics.jsonl\` and \`checkpoints/\` (on a shared disk, or copy them back from node 0).

Useful flags: \`--max-iters N\`, \`--batch-size N\`, \`--grad-accum N\`, \`--dtype bfloat16\` (faster on
recent GPUs; LLM Lens trains in float32), \`--compile\` (torch ≥ 2), \`--resume checkpoints/step-N\` to
continue after an interruption, \`--out-dir DIR\`.

Debian's python3-torch 1.13 on Python 3.11: its torchrun fails with \`'NoneType' object has no attribute
'get'\` (Python 3.11 changed how \`IntFlag\` iterates): add \`--redirects 1 --tee 1\` to the torchrun line.

## Follow it in LLM Lens

The folder is a run folder, as LLM Lens's own: \`metrics.jsonl\` holds the same events (start, step,
eval, sample, checkpoint, done) and \`checkpoints/step-N/\` the same files (\`model.safetensors\` in
Hugging Face GPT-2 names, \`config.json\`, the tokenizer, \`trainer.json\` + \`trainer.safetensors\`).

- Put (or sync) the folder under \`.llmlens/runs/\` of a workspace: the Runs view lists it and its
  dashboard follows \`metrics.jsonl\` while it grows (\`rsync -a node0:${f.name}/ .llmlens/runs/${f.name}/\`).
- Open a checkpoint in the Sampler or the Checkpoint Inspector, or \`llm-lens sample --checkpoint checkpoints/step-N\`.
- Continue it in LLM Lens: \`llm-lens train --config RUN.json --resume checkpoints/step-N\` (the same
  model and data; the batches after it are LLM Lens's own draw).
`;
}
