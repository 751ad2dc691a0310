/**
 * The built-in encodings, a registry of names like tiktoken's. Ranks come from the data files that the
 * js-tiktoken package ships (bundled; no download) and are parsed on first use, then kept:
 *
 *   getEncoding('cl100k_base').encode('hello world')  // [15339, 1917]
 *   BUILTIN_ENCODINGS                                  // ['gpt2', 'r50k_base', 'p50k_base', 'cl100k_base', 'o200k_base']
 *
 * js-tiktoken's compressed format: lines `! <first rank> <base64 token> <base64 token> …`, consecutive
 * tokens having consecutive ranks.
 */
import { BpeTokenizer } from './bpe';
import { GPT2_SPLIT_PATTERN, GPT4O_SPLIT_PATTERN, GPT4_SPLIT_PATTERN } from './splitPattern';

export const BUILTIN_ENCODINGS = ['gpt2', 'r50k_base', 'p50k_base', 'cl100k_base', 'o200k_base'] as const;
export type BuiltinEncodingName = (typeof BUILTIN_ENCODINGS)[number];

interface JsTiktokenRanks {
  bpe_ranks: string;
  special_tokens: Record<string, number>;
}

/** Which model families use each encoding, for pickers. */
export const BUILTIN_DESCRIPTIONS: Record<BuiltinEncodingName, string> = {
  gpt2: 'GPT-2',
  r50k_base: 'GPT-3 (davinci, curie…)',
  p50k_base: 'Codex, text-davinci-002/003',
  cl100k_base: 'GPT-3.5, GPT-4',
  o200k_base: 'GPT-4o, o1, o3, GPT-4.1, GPT-5',
};

export function isBuiltinEncoding(name: string): name is BuiltinEncodingName {
  return (BUILTIN_ENCODINGS as readonly string[]).includes(name);
}

const loaded = new Map<BuiltinEncodingName, BpeTokenizer>();

/** Each encoding's split pattern, where it is not GPT-2's. */
const SPLIT_PATTERNS: Partial<Record<BuiltinEncodingName, string>> = {
  cl100k_base: GPT4_SPLIT_PATTERN,
  o200k_base: GPT4O_SPLIT_PATTERN,
};

/** The built-in encoding `name`, parsed on first call (o200k_base: a few hundred ms). */
export function getEncoding(name: string): BpeTokenizer {
  if (!isBuiltinEncoding(name))
    throw new Error(`unknown encoding '${name}'; built-in encodings: ${BUILTIN_ENCODINGS.join(', ')}`);
  let enc = loaded.get(name);
  if (!enc) {
    const data = rankData(name);
    enc = new BpeTokenizer({
      name,
      ranks: parseCompressedRanks(data.bpe_ranks),
      specialTokens: new Map(Object.entries(data.special_tokens)),
      pattern: SPLIT_PATTERNS[name] ?? GPT2_SPLIT_PATTERN,
    });
    loaded.set(name, enc);
  }
  return enc;
}

/** Literal require()s so that the bundler includes each file, evaluated only when asked for. */
/* eslint-disable @typescript-eslint/no-require-imports */
function rankData(name: BuiltinEncodingName): JsTiktokenRanks {
  switch (name) {
    case 'gpt2': // tiktoken's gpt2 has r50k_base's ranks, pattern and special token
    case 'r50k_base':
      return require('js-tiktoken/ranks/r50k_base');
    case 'p50k_base':
      return require('js-tiktoken/ranks/p50k_base');
    case 'cl100k_base':
      return require('js-tiktoken/ranks/cl100k_base');
    case 'o200k_base':
      return require('js-tiktoken/ranks/o200k_base');
  }
}
/* eslint-enable @typescript-eslint/no-require-imports */

/** Parses js-tiktoken's compressed `bpe_ranks` into byte string → rank. */
export function parseCompressedRanks(text: string): Map<string, number> {
  const ranks = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const fields = line.split(' ');
    const first = Number.parseInt(fields[1], 10);
    for (let i = 2; i < fields.length; i++) ranks.set(atob(fields[i]), first + i - 2);
  }
  return ranks;
}
