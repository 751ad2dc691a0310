/**
 * A GPT for evaluation and sampling: the forward graph without gradients, with the weights fed in, one
 * cached session per shape. Used by the training loop (eval loss, samples) and by `llm-lens sample`.
 *
 *   const m = await GptInference.create(config, weights);
 *   await m.evalLoss(batch, B, T)                    // mean cross-entropy
 *   await m.generate(prompt, 100, { temperature: 0.8, topK: 200 }, rng)
 *
 * Generation recomputes the whole (cropped) context for each new token, as nanoGPT's sample.py does.
 * Another family's model (llama.ts): `GptInference.forFamily(llama, config, weights)`; its nextLogits runs
 * the context's power-of-two bucket (16, 32, … blockSize) rather than the whole block.
 */
import { Graph, targetOf } from '../graph/graph';
import { emitOnnx } from '../graph/emit';
import { GraphRunner, toHost, type HostTensor } from '../runtime/session';
import type { ExecutionProvider } from '../runtime/ort';
import { nextTokenProbs, sampleFrom, type SamplingOptions } from '../sample/sampling';
import type { Tensor } from '../graph/tensor';
import { familyForward, type FamilyConfig, type ModelFamily } from './family';
import { gptForward, type GptConfig } from './gpt';
import { gpt2 } from './gpt2';
import { prefillBucket } from './kvCache';

/** A GPT's architecture without the batch shape a graph is built for. */
export type GptModelConfig = Omit<GptConfig, 'batchSize' | 'seqLen' | 'embeddingGrad'>;

export interface InferenceOptions {
  ep?: ExecutionProvider;
  threads?: number;
}

/** Logits (B·T, V) of a model for idx (B, T) on graph g. */
type Forward<C> = (g: Graph, c: C, idx: Tensor, B: number, T: number) => Tensor;

export class GptInference<C extends FamilyConfig = GptModelConfig> {
  private readonly runners = new Map<string, Promise<GraphRunner>>();

  private constructor(
    readonly fam: ModelFamily<C>,
    readonly config: C,
    private weights: Record<string, HostTensor>,
    private readonly forward: Forward<C>,
    private readonly o: InferenceOptions,
    /** nextLogits runs the smallest power-of-two bucket of the context, not always blockSize. */
    private readonly bucketed = false,
  ) {}

  /** A GPT-2 (gpt.ts's forward pass). */
  static async create(
    config: GptModelConfig,
    weights: Record<string, HostTensor>,
    o: InferenceOptions = {},
  ): Promise<GptInference> {
    const forward: Forward<GptModelConfig> = (g, c, idx, B, T) =>
      gptForward(g, { ...c, batchSize: B, seqLen: T }, idx).logits;
    const m = new GptInference(gpt2, config, {}, forward, o);
    m.setWeights(weights);
    return m;
  }

  /** A model of any family (llama.ts's, say). */
  static async forFamily<F extends FamilyConfig>(
    fam: ModelFamily<F>,
    config: F,
    weights: Record<string, HostTensor>,
    o: InferenceOptions = {},
  ): Promise<GptInference<F>> {
    const forward: Forward<F> = (g, c, idx, B, T) => familyForward(g, fam, c, idx, { B, T });
    const m = new GptInference(fam, config, {}, forward, o, true);
    m.setWeights(weights);
    return m;
  }

  /** Replaces the weights (same shapes); checks that every parameter is there. */
  setWeights(weights: Record<string, HostTensor>): void {
    for (const p of this.fam.params(this.config)) {
      const w = weights[p.name];
      if (!w) throw new Error(`GPT weights lack ${p.name}`);
      const n = p.shape.reduce((a, b) => a * b, 1);
      if (w.data.length !== n)
        throw new Error(`GPT weight ${p.name} has ${w.data.length} values, expected [${p.shape.join(', ')}]`);
    }
    this.weights = weights;
  }

  /** The graph of a loss ('wloss': weighted) or logits run of B rows of T tokens, for this provider. */
  graph(kind: 'loss' | 'wloss' | 'logits', B: number, T: number): Graph {
    const g = new Graph({ name: `gpt-${kind}`, target: targetOf(this.o.ep) });
    const idx = g.input('idx', 'i64', [B, T]); // (B, T)
    const logits = this.forward(g, this.config, idx, B, T); // (B·T, V)
    if (kind !== 'logits') {
      const targets = g.input('targets', 'i64', [B, T]); // (B, T)
      const weights = kind === 'wloss' ? g.reshape(g.input('weights', 'f32', [B, T]), [B * T]) : undefined; // (B·T)
      g.output('loss', g.crossEntropy(logits, g.reshape(targets, [B * T]), { weights })); // ()
    } else g.output('logits', logits);
    return g;
  }

  private runner(kind: 'loss' | 'wloss' | 'logits', B: number, T: number): Promise<GraphRunner> {
    const key = `${kind}:${B}x${T}`;
    let r = this.runners.get(key);
    if (!r) {
      r = GraphRunner.create(emitOnnx(this.graph(kind, B, T)), { ep: this.o.ep, threads: this.o.threads });
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
    const S = this.config.blockSize;
    const ctx = context.length > S ? context.slice(-S) : context;
    if (!ctx.length) throw new Error('nextLogits needs at least one context token');
    // forFamily's models run the context's power-of-two bucket: a Llama's blockSize may be 128k positions
    const T = this.bucketed ? prefillBucket(ctx.length, S) : S;
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
