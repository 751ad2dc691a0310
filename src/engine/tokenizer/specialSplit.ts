/**
 * tiktoken's rules for special tokens in text, shared by every tokenizer: a special token that the text
 * holds is encoded as its one id when allowed, refused when disallowed (the default), and encoded as
 * ordinary text when neither (an empty disallowedSpecial). A user who types "<|im_end|>" into a chat
 * therefore never ends their turn unless the caller asks for it.
 *
 *   splitSpecial('a<|im_end|>b', new Map([['<|im_end|>', 66]]), { allowedSpecial: 'all' })
 *   // [{ start: 0, end: 1 }, { start: 1, end: 11, id: 66 }, { start: 11, end: 12 }]
 *   splitSpecial('a<|im_end|>b', specials, { disallowedSpecial: new Set() })   // [{ start: 0, end: 12 }]
 *   splitSpecial('a<|im_end|>b', specials)   // throws: the text contains the special token <|im_end|> …
 */
import type { EncodeOptions } from './tokenizer';

/** [start, end) of the text in UTF-16 code units: an allowed special token (its id) or text between them. */
export interface Segment {
  start: number;
  end: number;
  /** The special token's id; undefined for ordinary text. */
  id?: number;
}

/** The special tokens that `options` allows (encoded as themselves). */
export function allowedSpecials(
  specialTokens: ReadonlyMap<string, number>,
  options?: EncodeOptions,
): Set<string> {
  return options?.allowedSpecial === 'all'
    ? new Set(specialTokens.keys())
    : new Set(options?.allowedSpecial ?? []);
}

/** The text cut at its allowed special tokens; throws on a disallowed one that it holds. */
export function splitSpecial(
  text: string,
  specialTokens: ReadonlyMap<string, number>,
  options?: EncodeOptions,
): Segment[] {
  const allowed = allowedSpecials(specialTokens, options);
  const disallowedOption = options?.disallowedSpecial ?? 'all';
  const disallowed =
    disallowedOption === 'all' ? [...specialTokens.keys()].filter((t) => !allowed.has(t)) : disallowedOption;
  for (const token of disallowed) {
    const at = text.indexOf(token);
    if (at >= 0) {
      throw new Error(
        `the text contains the special token ${token} (at character ${at}), which is not allowed here. ` +
          `Allow it (allowedSpecial) to encode it as one special token, or pass an empty disallowedSpecial to encode it as plain text.`,
      );
    }
  }
  const out: Segment[] = [];
  let start = 0;
  const present = [...allowed].filter((t) => specialTokens.has(t) && text.includes(t));
  if (present.length) {
    const alternation = present
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join('|');
    const special = new RegExp(alternation, 'g');
    for (let m; (m = special.exec(text)) !== null;) {
      if (m.index > start) out.push({ start, end: m.index });
      out.push({ start: m.index, end: m.index + m[0].length, id: specialTokens.get(m[0]) as number });
      start = m.index + m[0].length;
    }
  }
  if (start < text.length) out.push({ start, end: text.length });
  return out;
}

function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}
