/**
 * A checkpoint's config.json, read against its weights. The weights' shapes say most of the config
 * (wte is [vocab_size, n_embd], wpe is [n_positions, n_embd], h.0 … h.N-1 are the layers), so every
 * refusal names the config.json field to change and, where the weights tell, the value to set.
 *
 *   const f = await openSafetensors('step-2000/model.safetensors');
 *   const held = configOfWeights(f.tensors);   // { vocab_size: 65, n_embd: 128, n_positions: 64, n_layer: 4, bias: true }
 *   const config = configFromJson(JSON.parse(text), 'step-2000/config.json', held);
 *   const names = matchWeights(f.tensors, config, held, files);   // parameter → its tensor in the file
 *
 * Tensor names are Hugging Face GPT-2's, with or without the `transformer.` prefix (the hub's gpt2 files
 * have none). The tied lm_head and the attention-mask buffers transformers may save are not parameters.
 */
import type { TensorInfo } from '../checkpoint/header';
import type { GptModelConfig } from '../model/inference';
import { gptParams } from '../model/gpt';
import { few } from '../few';

/** What a file's tensors say about its config, in config.json's field names (absent where no tensor tells). */
export interface ConfigOfWeights {
  vocab_size?: number;
  n_positions?: number;
  n_embd?: number;
  n_layer?: number;
  bias?: boolean;
}

/** The dtypes a checkpoint's weights load from (as float32). */
export const WEIGHT_DTYPES: readonly string[] = ['F32', 'F16', 'BF16', 'F64'];

const NOT_PARAMS = /^transformer\.(lm_head\.weight|h\.\d+\.attn\.(masked_)?bias)$/;
const LAYER = /^transformer\.h\.(\d+)\./;

/** Tensors by their name with the `transformer.` prefix (a name the file holds twice keeps its first). */
function byParamName(tensors: readonly TensorInfo[]): Map<string, TensorInfo> {
  const out = new Map<string, TensorInfo>();
  for (const t of tensors) {
    const k = t.name.startsWith('transformer.') ? t.name : `transformer.${t.name}`;
    if (!out.has(k) || k === t.name) out.set(k, t);
  }
  return out;
}

export function configOfWeights(tensors: readonly TensorInfo[]): ConfigOfWeights {
  const byName = byParamName(tensors);
  const out: ConfigOfWeights = {};
  const wte = byName.get('transformer.wte.weight')?.shape;
  if (wte?.length === 2) [out.vocab_size, out.n_embd] = wte;
  const wpe = byName.get('transformer.wpe.weight')?.shape;
  if (wpe?.length === 2) out.n_positions = wpe[0];
  let layers = 0;
  for (const k of byName.keys()) layers = Math.max(layers, Number(LAYER.exec(k)?.[1] ?? -1) + 1);
  if (layers) out.n_layer = layers;
  if (byName.has('transformer.ln_f.weight')) out.bias = byName.has('transformer.ln_f.bias');
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const ACTIVATIONS: Record<string, 'none' | 'tanh'> = {
  gelu: 'none',
  gelu_new: 'tanh',
  gelu_pytorch_tanh: 'tanh',
};

/** The model config from config.json (ours or a Hugging Face GPT-2's); `held`: what the weights say, for the hints. */
export function configFromJson(j: unknown, source: string, held: ConfigOfWeights = {}): GptModelConfig {
  if (!isObject(j))
    throw new Error(
      `${source} holds ${Array.isArray(j) ? 'a list' : JSON.stringify(j)}, not an object of GPT2Config fields (n_layer, n_head, n_embd, n_positions, vocab_size): restore the config.json saved with the weights`,
    );
  if (j.model_type !== undefined && j.model_type !== 'gpt2')
    throw new Error(
      `${source}: model_type "${String(j.model_type)}" is not gpt2; LLM Lens trains and samples GPT-2-style models`,
    );
  const num = (k: keyof ConfigOfWeights | 'n_head', v = j[k]): number => {
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
    const fix =
      k !== 'n_head' && held[k] !== undefined
        ? `set "${k}": ${held[k]} (what the weights hold)`
        : `set it to the model's ${k === 'n_head' ? 'number of attention heads' : 'size'}`;
    throw new Error(
      `${source}: "${k}" must be a positive integer, got ${v === undefined ? 'nothing' : JSON.stringify(v)}: ${fix}`,
    );
  };
  // GPT2Config's n_ctx was n_positions' old name; transformers sizes wpe by n_positions
  const nPositions = num('n_positions', j.n_positions ?? j.n_ctx);
  const nEmbd = num('n_embd');
  const nHead = num('n_head');
  if (nEmbd % nHead) {
    const divisors = [...Array(nEmbd).keys()].map((i) => i + 1).filter((d) => nEmbd % d === 0);
    throw new Error(
      `${source}: "n_head": ${nHead} does not divide "n_embd": ${nEmbd} (each head would be ${+(nEmbd / nHead).toFixed(3)} wide): set "n_head" to the model's number of heads, a divisor of ${nEmbd} (${divisors.slice(-6).join(', ')} …)`,
    );
  }
  if (j.n_inner !== undefined && j.n_inner !== null && j.n_inner !== 4 * nEmbd)
    throw new Error(
      `${source}: "n_inner": ${JSON.stringify(j.n_inner)} is not 4 × n_embd (${4 * nEmbd}), the MLP width LLM Lens builds: set "n_inner": null, or use a model with a 4 × n_embd MLP`,
    );
  // transformers' GPT2Config defaults to gelu_new
  const act = j.activation_function ?? 'gelu_new';
  const gelu = typeof act === 'string' ? ACTIVATIONS[act] : undefined;
  if (!gelu)
    throw new Error(
      `${source}: "activation_function": ${JSON.stringify(act)} is not one LLM Lens computes (${Object.keys(ACTIVATIONS).join(', ')}): set the activation the model was trained with`,
    );
  const ours = isObject(j.llm_lens) ? j.llm_lens : {};
  if (ours.bias !== undefined && typeof ours.bias !== 'boolean')
    throw new Error(
      `${source}: "llm_lens": {"bias": ${JSON.stringify(ours.bias)}} must be true or false: set it to ${held.bias ?? true}${held.bias !== undefined ? ' (what the weights hold)' : ''}`,
    );
  return {
    vocabSize: num('vocab_size'),
    blockSize: nPositions,
    nLayer: num('n_layer'),
    nHead,
    nEmbd,
    bias: (ours.bias as boolean | undefined) ?? true,
    gelu,
  };
}

const fieldText = (k: keyof ConfigOfWeights, v: unknown) =>
  k === 'bias' ? `"llm_lens": {"bias": ${String(v)}}` : `"${k}": ${String(v)}`;

/**
 * Pairs every parameter of `config` with its tensor in the file; throws when the file lacks one, holds one
 * the config does not use, holds one in another shape, or in a dtype that does not load as float32.
 */
export function matchWeights(
  tensors: readonly TensorInfo[],
  config: GptModelConfig,
  held: ConfigOfWeights,
  files: { model: string; config: string },
): Map<string, TensorInfo> {
  const byName = byParamName(tensors);
  // one layer past the file's names what is missing: all of "n_layer": 100000000 would take minutes to list
  const layers = Math.min(config.nLayer, (held.n_layer ?? 0) + 1);
  const params = gptParams({ ...config, nLayer: layers, batchSize: 1 });
  const wanted = new Set(params.map((p) => p.name));
  const missing = params.filter((p) => !byName.has(p.name)).map((p) => p.name);
  const unused = [...byName].filter(([k]) => !wanted.has(k) && !NOT_PARAMS.test(k)).map(([, t]) => t.name);
  const reshaped = params.flatMap((p) => {
    const t = byName.get(p.name);
    return t && t.shape.join(',') !== p.shape.join(',') ? [`${t.name} [${t.shape}], not [${p.shape}]`] : [];
  });
  if (missing.length || unused.length || reshaped.length) {
    const says: Record<keyof ConfigOfWeights, unknown> = {
      vocab_size: config.vocabSize,
      n_positions: config.blockSize,
      n_embd: config.nEmbd,
      n_layer: config.nLayer,
      bias: config.bias,
    };
    const differ = (Object.keys(says) as (keyof ConfigOfWeights)[]).filter(
      (k) => held[k] !== undefined && held[k] !== says[k],
    );
    const what = [
      missing.length &&
        (layers < config.nLayer
          ? `it lacks the weights of layers ${layers - 1} to ${config.nLayer - 1} (${few(missing)})`
          : `it lacks ${missing.length} weight(s) the config needs (${few(missing)})`),
      unused.length && `it holds ${unused.length} weight(s) the config does not use (${few(unused)})`,
      reshaped.length &&
        `${reshaped.length} weight(s) have other shapes than the config implies (${few(reshaped)})`,
    ].filter(Boolean);
    const fix = differ.length
      ? `config.json says ${differ.map((k) => fieldText(k, says[k])).join(', ')} but the weights hold ${differ.map((k) => fieldText(k, held[k])).join(', ')}: set ${differ.length > 1 ? 'these' : 'it'} in ${files.config}, or use the config.json saved with these weights`
      : `the file is damaged or holds another model: use the config.json saved with these weights`;
    throw new Error(`${files.model} does not match ${files.config}: ${what.join('; ')}. ${fix}`);
  }
  const odd = params.map((p) => byName.get(p.name)!).filter((t) => !WEIGHT_DTYPES.includes(t.dtype));
  if (odd.length)
    throw new Error(
      `${files.model}: ${few(odd.map((t) => `${t.name} is ${t.dtype}`))}; LLM Lens loads weights of dtype ${WEIGHT_DTYPES.join(', ')}: save the checkpoint again in one of them (e.g. torch: {k: v.float()} with safetensors.torch.save_file)`,
    );
  return new Map(params.map((p) => [p.name, byName.get(p.name)!]));
}
