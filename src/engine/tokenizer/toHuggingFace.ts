/**
 * A byte-level BPE tokenizer (tiktoken ranks + split pattern + special tokens) as a Hugging Face
 * `tokenizer.json`, for checkpoints that load in transformers, transformers.js and tokenizers. The
 * conversion is transformers' TikTokenConverter's:
 *
 *   vocab     each token's bytes through GPT-2's bytes_to_unicode → its rank   (' the' → 'Ġthe': 262)
 *   merges    every split of a token into two tokens, ordered by the merged token's rank, then by
 *             the ranks of the two pieces                                     ('Ġ t' 'h e' 'Ġt he' …)
 *   pre_tokenizer  Split(the split pattern, Isolated) then ByteLevel without its own regex
 *   decoder   ByteLevel;  added_tokens  the special tokens, with their ids, which are in the model's
 *             vocab too (as GPT-2's tokenizer.json has '<|endoftext|>'): Rust tokenizers keeps an added
 *             token's id only when the model knows it, and numbers the others from the vocab's size up
 *             (cl100k_base's <|endoftext|> would become 100256, not 100257)
 *
 *   fs.writeFileSync('tokenizer.json', bpeToHuggingFaceJson(getEncoding('cl100k_base')))
 *   fs.writeFileSync('tokenizer_config.json', huggingFaceTokenizerConfig(enc, 1024))
 *
 * Why this encodes like tiktoken: tiktoken merges the adjacent pair whose merged token has the lowest
 * rank (leftmost on ties); HF's BPE merges the pair with the lowest merge index. With merges sorted by
 * merged rank, and every split of every token listed, the two agree. `ignore_merges: true` is
 * tiktoken's shortcut too: a pre-token that is itself a token is that token, even where merging would
 * not reach it. One case no merge list can express: parts [x][y][z] where x+y and y+z are the same
 * token (a border y, e.g. [aa][a][aa] → 'aaa'); tiktoken takes the left pair, HF the pair listed
 * first. Reaching such a state takes more than a border; encoding x+y+z for every border triple of
 * gpt2, cl100k_base and o200k_base, and 200,000 random concatenations of 2–4 of their tokens, found
 * no difference.
 *
 * Known limit, in Rust tokenizers (and so Python transformers) only: its ByteLevel decoder also maps
 * added tokens, so a special token made only of byte-level characters that are not themselves
 * (e.g. '<|ñ|>': ñ stands for byte 0xF1) decodes wrongly there. ASCII special tokens are unaffected,
 * and transformers.js and @huggingface/tokenizers decode added tokens as written.
 *
 * The split pattern is written so that the three regex engines read it alike: tiktoken's Rust regex,
 * Oniguruma (tokenizers, transformers) and the rewrite to JS RegExp of @huggingface/tokenizers
 * (transformers.js). `(?i:'s|'t)` becomes `(?:'[sSſ]|'[tT])`: Rust folds ſ (U+017F) to s and the Kelvin
 * sign to k, the JS rewrite folds ASCII only. Possessive quantifiers become greedy ones (as in
 * splitPattern.ts, they never change what tiktoken's patterns match).
 */
import type { BpeTokenizer } from './bpe';
import { portableSplitPattern } from './splitPattern';

/** The tokenizer.json text (pretty printed, vocab and merges one per line, in id order). */
export function bpeToHuggingFaceJson(tok: BpeTokenizer): string {
  const ids: string[] = []; // id → byte-level token string
  for (const [bytes, id] of tok.ranks) ids[id] = byteLevel(bytes);
  const vocabIds = new Map<string, number>();
  for (let id = 0; id < ids.length; id++) if (ids[id] !== undefined) vocabIds.set(ids[id], id);
  for (const [text, id] of tok.specialTokens) {
    const clash = vocabIds.get(text);
    if (clash !== undefined) {
      throw new Error(
        `${tok.name}: special token ${text} (id ${id}) is also the text of ordinary token ${clash}; a tokenizer.json cannot tell them apart`,
      );
    }
  }

  const lines: string[] = [];
  lines.push('{', '  "version": "1.0",', '  "truncation": null,', '  "padding": null,');
  const specials = [...tok.specialTokens].sort((a, b) => a[1] - b[1]);
  lines.push('  "added_tokens": [' + (specials.length ? '' : ']'));
  specials.forEach(([content, id], i) => {
    lines.push(
      '    ' + JSON.stringify(specialAddedToken(content, id)) + (i < specials.length - 1 ? ',' : ''),
    );
  });
  if (specials.length) lines.push('  ],');
  else lines[lines.length - 1] += ',';
  lines.push('  "normalizer": null,');
  const preTokenizer = {
    type: 'Sequence',
    pretokenizers: [
      {
        type: 'Split',
        pattern: { Regex: portableSplitPattern(tok.pattern) },
        behavior: 'Isolated',
        invert: false,
      },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  };
  lines.push('  "pre_tokenizer": ' + JSON.stringify(preTokenizer) + ',');
  lines.push(
    '  "post_processor": ' +
      JSON.stringify({ type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true }) +
      ',',
  );
  lines.push(
    '  "decoder": ' +
      JSON.stringify({ type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true }) +
      ',',
  );
  lines.push('  "model": {');
  lines.push(
    '    "type": "BPE",',
    '    "dropout": null,',
    '    "unk_token": null,',
    '    "continuing_subword_prefix": null,',
    '    "end_of_word_suffix": null,',
  );
  lines.push('    "fuse_unk": false,', '    "byte_fallback": false,', '    "ignore_merges": true,');
  lines.push('    "vocab": {');
  const vocabLines: string[] = [];
  for (let id = 0; id < ids.length; id++)
    if (ids[id] !== undefined) vocabLines.push(`      ${JSON.stringify(ids[id])}: ${id}`);
  for (const [content, id] of specials) vocabLines.push(`      ${JSON.stringify(content)}: ${id}`);
  lines.push(vocabLines.join(',\n'), '    },');
  lines.push('    "merges": [');
  lines.push(
    mergesOf(tok.ranks, ids)
      .map((m) => `      ${JSON.stringify(m)}`)
      .join(',\n'),
  );
  lines.push('    ]', '  }', '}', '');
  return lines.join('\n');
}

/** A special token as an entry of tokenizer.json's added_tokens, matched as written (not normalized, not stripped). */
export function specialAddedToken(content: string, id: number) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/**
 * tokenizer_config.json for the same folder: transformers.js will not load a tokenizer.json without
 * it, and clean_up_tokenization_spaces must be off (it would turn ' .' into '.' when decoding).
 * `extra` adds fields (a chat_template).
 */
export function huggingFaceTokenizerConfig(
  tok: BpeTokenizer,
  modelMaxLength: number,
  extra: Record<string, unknown> = {},
): string {
  const config: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    clean_up_tokenization_spaces: false,
    model_max_length: modelMaxLength,
    ...extra,
  };
  if (tok.specialTokens.has('<|endoftext|>')) {
    config.bos_token = '<|endoftext|>';
    config.eos_token = '<|endoftext|>';
  }
  return JSON.stringify(config, null, 2) + '\n';
}

/**
 * Merges "left right" (byte-level strings, which never hold a space), one for each split of each token
 * into two tokens; by merged rank, then left rank, then right rank.
 */
function mergesOf(ranks: ReadonlyMap<string, number>, ids: readonly string[]): string[] {
  const byRank = [...ranks].sort((a, b) => a[1] - b[1]);
  const merges: string[] = [];
  const local: Array<[number, number]> = [];
  for (const [bytes] of byRank) {
    if (bytes.length < 2) continue;
    local.length = 0;
    for (let i = 1; i < bytes.length; i++) {
      const left = ranks.get(bytes.substring(0, i));
      if (left === undefined) continue;
      const right = ranks.get(bytes.substring(i));
      if (right !== undefined) local.push([left, right]);
    }
    local.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (const [left, right] of local) merges.push(`${ids[left]} ${ids[right]}`);
  }
  return merges;
}

/** GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others for U+0100 and up ('Ġ' is the space). */
const BYTE_TO_UNICODE: string[] = (() => {
  const table: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
  return table;
})();

/** A byte string (see byteString.ts) in byte-level characters. */
function byteLevel(bytes: string): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_UNICODE[bytes.charCodeAt(i)];
  return out;
}
