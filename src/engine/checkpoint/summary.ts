/**
 * What a checkpoint is: its module tree with parameter counts, the architecture guessed from tensor
 * names (and config.json when there is one), and totals by dtype.
 *
 *   const s = summarizeCheckpoint(ckpt.tensors, config);   // config: the parsed config.json, optional
 *   s.architecture  // { family: 'gpt2', label: 'GPT-2', nLayer: 12, nEmbd: 768, vocabSize: 50257, ... }
 *   s.tree.children[0]  // { name: 'transformer', path: 'transformer', params: 124439808, share: 1, children: [...] }
 *
 * A Llama-family checkpoint without lm_head.weight (tie_word_embeddings) gets an `lm_head` node of no
 * parameters whose note says it is the token embedding, so the tree shows every module the model runs.
 */

/** What the summary needs of a tensor (TensorInfo fits). */
export interface TensorEntry {
  name: string;
  dtype: string;
  shape: readonly number[];
  elements: number;
  byteLength: number;
}

export interface ModuleNode {
  /** The last name segment: 'c_attn', '0', 'weight'. */
  name: string;
  /** The dotted path from the root: 'transformer.h.0.attn.c_attn' ('' for the root). */
  path: string;
  /** Elements of all tensors below. */
  params: number;
  bytes: number;
  /** params / total params of the checkpoint (0 when it has none). */
  share: number;
  /** Number of tensors below. */
  tensorCount: number;
  /** Set on leaves: the full tensor name. */
  tensor?: string;
  /** Said beside the name: 'tied to model.embed_tokens.weight' for a tied lm_head. */
  note?: string;
  /** Numeric segments in numeric order (h.2 before h.10), others by name. */
  children: ModuleNode[];
}

/** Groups tensor names into a tree by their dot-separated segments. */
export function moduleTree(tensors: readonly TensorEntry[]): ModuleNode {
  const root: ModuleNode = {
    name: '',
    path: '',
    params: 0,
    bytes: 0,
    share: 0,
    tensorCount: 0,
    children: [],
  };
  const index = new Map<string, ModuleNode>([['', root]]);
  for (const t of tensors) {
    let node = root;
    const parts = t.name.split('.');
    for (let i = 0; i < parts.length; i++) {
      node.params += t.elements;
      node.bytes += t.byteLength;
      node.tensorCount++;
      const path = parts.slice(0, i + 1).join('.');
      // a tensor and a module of the same name ('a' and 'a.b') get distinct nodes
      const key = i === parts.length - 1 ? `${path}\u0000tensor` : path;
      let child = index.get(key);
      if (!child) {
        child = { name: parts[i], path, params: 0, bytes: 0, share: 0, tensorCount: 0, children: [] };
        index.set(key, child);
        node.children.push(child);
      }
      node = child;
    }
    node.params += t.elements;
    node.bytes += t.byteLength;
    node.tensorCount++;
    node.tensor = t.name;
  }
  const total = root.params;
  const finish = (n: ModuleNode) => {
    n.share = total ? n.params / total : 0;
    n.children.sort(bySegment);
    n.children.forEach(finish);
  };
  finish(root);
  return root;
}

function bySegment(a: ModuleNode, b: ModuleNode): number {
  const na = /^\d+$/.test(a.name);
  const nb = /^\d+$/.test(b.name);
  if (na && nb) return Number(a.name) - Number(b.name);
  if (na !== nb) return na ? 1 : -1;
  if (a.name === b.name) return 0;
  return a.name < b.name ? -1 : 1;
}

export type ArchitectureFamily = 'gpt2' | 'llama' | 'other';

export interface ArchitectureGuess {
  family: ArchitectureFamily;
  /** For people: 'GPT-2', 'Llama-style (llama)', 'unknown'. */
  label: string;
  nLayer?: number;
  nEmbd?: number;
  nHead?: number;
  vocabSize?: number;
  /** GPT-2's n_positions, from wpe or config. */
  blockSize?: number;
  /** Llama-style MLP width. */
  intermediateSize?: number;
  /** Llama-style grouped-query attention: key/value heads. */
  nKvHead?: number;
  /** True when there is no separate lm_head (it shares the token embedding). */
  tiedEmbeddings?: boolean;
  /** Why: which names or config fields decided it, and disagreements between them. */
  evidence: string[];
}

const GPT2_BLOCK = /^(?:transformer\.)?h\.(\d+)\./;
const LLAMA_BLOCK = /^(?:model\.)?layers\.(\d+)\./;

const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;

function maxLayer(names: readonly string[], re: RegExp): number | undefined {
  let m = -1;
  for (const n of names) {
    const r = re.exec(n);
    if (r) m = Math.max(m, Number(r[1]));
  }
  return m >= 0 ? m + 1 : undefined;
}

/** Guesses the architecture from tensor names and shapes, refined by a config.json object when given. */
export function guessArchitecture(tensors: readonly TensorEntry[], config?: unknown): ArchitectureGuess {
  const names = tensors.map((t) => t.name);
  const shapeOf = (re: RegExp) => tensors.find((t) => re.test(t.name))?.shape;
  const cfg = typeof config === 'object' && config !== null ? (config as Record<string, unknown>) : {};
  const modelType = typeof cfg.model_type === 'string' ? cfg.model_type : undefined;
  const archs = Array.isArray(cfg.architectures)
    ? cfg.architectures.filter((a): a is string => typeof a === 'string')
    : [];
  const evidence: string[] = [];

  const gpt2Names =
    names.some((n) => /(^|\.)h\.\d+\.attn\.c_attn\./.test(n)) ||
    names.some((n) => /(^|\.)wte\.weight$/.test(n));
  const llamaNames = names.some((n) => /(^|\.)layers\.\d+\.self_attn\.q_proj\./.test(n));
  const gpt2Config = modelType === 'gpt2' || archs.some((a) => a.startsWith('GPT2'));
  const llamaConfig =
    ['llama', 'mistral', 'qwen2', 'qwen3', 'gemma', 'gemma2', 'phi3', 'olmo', 'smollm'].includes(
      modelType ?? '',
    ) || archs.some((a) => /^(Llama|Mistral|Qwen\d?|Gemma\d?)For/.test(a));
  if (gpt2Names) evidence.push('GPT-2 names (transformer.h.N.attn.c_attn, wte)');
  if (llamaNames) evidence.push('Llama-style names (model.layers.N.self_attn.q_proj)');
  if (modelType) evidence.push(`config.json model_type '${modelType}'`);

  if (gpt2Names || (gpt2Config && !llamaNames)) {
    const wte = shapeOf(/(^|\.)wte\.weight$/);
    const wpe = shapeOf(/(^|\.)wpe\.weight$/);
    const g: ArchitectureGuess = {
      family: 'gpt2',
      label: 'GPT-2',
      nLayer: maxLayer(names, GPT2_BLOCK),
      nEmbd: wte?.[1],
      vocabSize: wte?.[0],
      blockSize: wpe?.[0],
      nHead: num(cfg.n_head),
      tiedEmbeddings: !names.some((n) => /(^|\.)lm_head\.weight$/.test(n)),
      evidence,
    };
    reconcile(g, cfg, {
      nLayer: 'n_layer',
      nEmbd: 'n_embd',
      vocabSize: 'vocab_size',
      blockSize: 'n_positions',
    });
    if (llamaConfig) evidence.push('config.json names a Llama-style model, but the tensors have GPT-2 names');
    return g;
  }
  if (llamaNames || llamaConfig) {
    const emb = shapeOf(/(^|\.)embed_tokens\.weight$/);
    const g: ArchitectureGuess = {
      family: 'llama',
      label: `Llama-style${modelType ? ` (${modelType})` : ''}`,
      nLayer: maxLayer(names, LLAMA_BLOCK),
      nEmbd: emb?.[1],
      vocabSize: emb?.[0],
      intermediateSize: shapeOf(/(^|\.)layers\.\d+\.mlp\.gate_proj\.weight$/)?.[0],
      nHead: num(cfg.num_attention_heads),
      tiedEmbeddings: !names.some((n) => /(^|\.)lm_head\.weight$/.test(n)),
      evidence,
    };
    reconcile(g, cfg, {
      nLayer: 'num_hidden_layers',
      nEmbd: 'hidden_size',
      vocabSize: 'vocab_size',
      intermediateSize: 'intermediate_size',
    });
    const kRows = shapeOf(/(^|\.)layers\.\d+\.self_attn\.k_proj\.weight$/)?.[0];
    const headDim = g.nHead && g.nEmbd ? g.nEmbd / g.nHead : undefined;
    g.nKvHead = num(cfg.num_key_value_heads) ?? (kRows && headDim ? kRows / headDim : undefined);
    return g;
  }
  return { family: 'other', label: modelType ? `unknown (${modelType})` : 'unknown', evidence };
}

/** Fills fields missing from the tensors with config values and notes disagreements. */
function reconcile(
  g: ArchitectureGuess,
  cfg: Record<string, unknown>,
  fields: Partial<Record<keyof ArchitectureGuess, string>>,
): void {
  for (const [field, key] of Object.entries(fields) as Array<[keyof ArchitectureGuess, string]>) {
    const fromConfig = num(cfg[key]);
    if (fromConfig === undefined) continue;
    const fromNames = g[field];
    if (fromNames === undefined) (g as unknown as Record<string, unknown>)[field] = fromConfig;
    else if (fromNames !== fromConfig)
      g.evidence.push(`config.json ${key}=${fromConfig} but the tensors say ${String(fromNames)}`);
  }
}

export interface CheckpointSummary {
  architecture: ArchitectureGuess;
  tensorCount: number;
  /** Total elements. */
  params: number;
  /** Total tensor data bytes. */
  bytes: number;
  dtypes: Record<string, { tensors: number; params: number; bytes: number }>;
  tree: ModuleNode;
}

/** Everything the summary view shows at the top. */
export function summarizeCheckpoint(tensors: readonly TensorEntry[], config?: unknown): CheckpointSummary {
  const dtypes: CheckpointSummary['dtypes'] = Object.create(null);
  let params = 0;
  let bytes = 0;
  for (const t of tensors) {
    const d = (dtypes[t.dtype] ??= { tensors: 0, params: 0, bytes: 0 });
    d.tensors++;
    d.params += t.elements;
    d.bytes += t.byteLength;
    params += t.elements;
    bytes += t.byteLength;
  }
  const architecture = guessArchitecture(tensors, config);
  const tree = moduleTree(tensors);
  if (architecture.family === 'llama' && architecture.tiedEmbeddings) addTiedHead(tree, tensors);
  return { architecture, tensorCount: tensors.length, params, bytes, dtypes, tree };
}

/** The lm_head node of a tied Llama-family checkpoint: no parameters of its own, the embedding's name. */
function addTiedHead(root: ModuleNode, tensors: readonly TensorEntry[]): void {
  const embed = tensors.find((t) => /(^|\.)embed_tokens\.weight$/.test(t.name))?.name;
  if (!embed) return;
  const prefix = embed.startsWith('model.') ? '' : embed.slice(0, embed.indexOf('embed_tokens'));
  const path = `${prefix}lm_head`;
  root.children.push({
    name: 'lm_head',
    path,
    params: 0,
    bytes: 0,
    share: 0,
    tensorCount: 0,
    note: `tied to ${embed}`,
    children: [],
  });
  root.children.sort(bySegment);
}
