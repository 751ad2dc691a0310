/**
 * A GPT for evaluation and sampling: the forward graph without gradients, with the weights fed in, one
 * cached session per shape. Used by the training loop (eval loss, samples) and by `llm-lens sample`.
 *
 *   const m = await GptInference.create(config, weights);
 *   await m.evalLoss(batch, B, T)                    // mean cross-entropy
 *   await m.generate(prompt, 100, { temperature: 0.8, topK: 200 }, rng)
 *
 * Generation recomputes the whole (cropped) context for each new token, as nanoGPT's sample.py does.
 */
import { Graph } from '../graph/graph';
import { emitOnnx } from '../graph/emit';
import { GraphRunner, toHost, type HostTensor } from '../runtime/session';
import type { ExecutionProvider } from '../runtime/ort';
import { nextTokenProbs, sampleFrom, type SamplingOptions } from '../sample/sampling';
import { gptForward, gptParams, type GptConfig } from './gpt';

/** A GPT's architecture without the batch shape a graph is built for. */
export type GptModelConfig = Omit<GptConfig, 'batchSize' | 'seqLen' | 'embeddingGrad'>;

export interface InferenceOptions {
  ep?: ExecutionProvider;
  threads?: number;
}

export class GptInference {
  private readonly runners = new Map<string, Promise<GraphRunner>>();

  private constructor(
    readonly config: GptModelConfig,
    private weights: Record<string, HostTensor>,
    private readonly o: InferenceOptions,
  ) {}

  static async create(
    config: GptModelConfig,
    weights: Record<string, HostTensor>,
    o: InferenceOptions = {},
  ): Promise<GptInference> {
    const m = new GptInference(config, {}, o);
    m.setWeights(weights);
    return m;
  }

  /** Replaces the weights (same shapes); checks that every parameter is there. */
  setWeights(weights: Record<string, HostTensor>): void {
    for (const p of gptParams({ ...this.config, batchSize: 1 })) {
      const w = weights[p.name];
      if (!w) throw new Error(`GPT weights lack ${p.name}`);
      const n = p.shape.reduce((a, b) => a * b, 1);
      if (w.data.length !== n)
        throw new Error(`GPT weight ${p.name} has ${w.data.length} values, expected [${p.shape.join(', ')}]`);
    }
    this.weights = weights;
  }

  private runner(kind: 'loss' | 'wloss' | 'logits', B: number, T: number): Promise<GraphRunner> {
    const key = `${kind}:${B}x${T}`;
    let r = this.runners.get(key);
    if (!r) {
      const g = new Graph({ name: `gpt-${kind}` });
      const c: GptConfig = { ...this.config, batchSize: B, seqLen: T };
      const idx = g.input('idx', 'i64', [B, T]); // (B, T)
      const { logits } = gptForward(g, c, idx); // (B·T, V)
      if (kind !== 'logits') {
        const targets = g.input('targets', 'i64', [B, T]); // (B, T)
        const weights = kind === 'wloss' ? g.reshape(g.input('weights', 'f32', [B, T]), [B * T]) : undefined; // (B·T)
        g.output('loss', g.crossEntropy(logits, g.reshape(targets, [B * T]), { weights })); // ()
      } else g.output('logits', logits);
      r = GraphRunner.create(emitOnnx(g), { ep: this.o.ep, threads: this.o.threads });
      this.runners.set(key, r);
    }
    return r;
  }

  /** Mean cross-entropy of a (B, T) batch; with `weights` (B, T), Σ w·CE / Σ w (fine-tuning's loss). */
  async evalLoss(
    batch: { idx: BigInt64Array; targets: BigInt64Array; weights?: Float32Array },
    B: number,
    T: number,
  ): Promise<number> {
    const r = await this.runner(batch.weights ? 'wloss' : 'loss', B, T);
    const out = await r.run({
      ...this.weights,
      idx: { dtype: 'i64', shape: [B, T], data: batch.idx },
      targets: { dtype: 'i64', shape: [B, T], data: batch.targets },
      ...(batch.weights ? { weights: { dtype: 'f32' as const, shape: [B, T], data: batch.weights } } : {}),
    });
    return Number((await toHost(out.loss)).data[0]);
  }

  /** Logits (V) for the token after `context` (cropped to the last blockSize tokens). */
  async nextLogits(context: readonly number[]): Promise<Float32Array> {
    const T = this.config.blockSize;
    const ctx = context.length > T ? context.slice(-T) : context;
    if (!ctx.length) throw new Error('nextLogits needs at least one context token');
    const r = await this.runner('logits', 1, T);
    const idx = new BigInt64Array(T); // padded with token 0 after the context: causal attention never looks ahead
    ctx.forEach((t, i) => (idx[i] = BigInt(t)));
    const out = await r.run({ ...this.weights, idx: { dtype: 'i64', shape: [1, T], data: idx } });
    const logits = (await toHost(out.logits)).data as Float32Array; // (T, V)
    const V = this.config.vocabSize;
    return logits.slice((ctx.length - 1) * V, ctx.length * V);
  }

  /** Appends up to `maxNew` sampled tokens to `prompt`; `stop(id)` ends early. */
  async generate(
    prompt: readonly number[],
    maxNew: number,
    s: SamplingOptions,
    random: () => number,
    signal?: AbortSignal,
  ): Promise<number[]> {
    const out = [...prompt];
    for (let i = 0; i < maxNew; i++) {
      signal?.throwIfAborted();
      const logits = await this.nextLogits(out);
      out.push(sampleFrom(nextTokenProbs(logits, s), random()));
    }
    return out.slice(prompt.length);
  }

  async release(): Promise<void> {
    for (const r of this.runners.values()) await (await r).release();
    this.runners.clear();
  }
}
