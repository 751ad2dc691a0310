/**
 * Pre-tokenizer split patterns. tiktoken writes them for Rust's regex engines (`fancy-regex`), whose
 * `\s` is Unicode White_Space and which knows `(?i:…)` groups and possessive quantifiers; JavaScript's
 * RegExp differs on all three. `toJsRegExp` translates such a pattern into an equivalent JS RegExp:
 *
 *   toJsRegExp("(?i:'s|'t)|\\s+(?!\\S)")
 *   // → /(?:'[sS\u017F]|'[tT])|[\t-\r \x85\xA0…]+(?![^\t-\r \x85\xA0…])/gu
 *
 * - `\s` / `\S` become the explicit White_Space class (JS's `\s` adds U+FEFF and omits U+0085);
 * - `(?i:…)` over ASCII text becomes per-letter classes, with Unicode's simple case folds (s ↔ ſ,
 *   k ↔ K Kelvin sign) that Rust's `(?i)` applies too;
 * - possessive quantifiers (`?+`, `*+`, `++`) become greedy ones: in tiktoken's and minbpe's patterns
 *   they never change what matches, they only stop backtracking.
 */

/** GPT-2's split pattern (gpt2, r50k_base, p50k_base), as tiktoken writes it. */
export const GPT2_SPLIT_PATTERN =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** GPT-4's split pattern (cl100k_base), as tiktoken writes it; minbpe's GPT4_SPLIT_PATTERN matches the same text. */
export const GPT4_SPLIT_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** GPT-4o's split pattern (o200k_base), as tiktoken writes it. */
export const GPT4O_SPLIT_PATTERN = [
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
  '\\p{N}{1,3}',
  ' ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*',
  '\\s*[\\r\\n]+',
  '\\s+(?!\\S)',
  '\\s+',
].join('|');

/** Unicode White_Space, the meaning of `\s` in Rust's regex crates, as a character-class body. */
const WHITE_SPACE = '\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';

/** Simple case folds beyond ASCII that Rust's `(?i)` applies: ſ (U+017F) folds to s, K (U+212A) to k. */
const EXTRA_FOLDS: Record<string, string> = { s: '\\u017F', k: '\\u212A' };
/** The same folds as literal characters, which every engine reads alike inside a class. */
const PORTABLE_FOLDS: Record<string, string> = { s: '\u017F', k: '\u212A' };

/** Translates a tiktoken (Rust regex) split pattern into a global, Unicode JS RegExp that matches the same pieces. */
export function toJsRegExp(pattern: string): RegExp {
  const source = translate(pattern);
  try {
    return new RegExp(source, 'gu');
  } catch (e) {
    throw new Error(
      `split pattern not supported: ${pattern} (${e instanceof Error ? e.message : String(e)})`,
      { cause: e },
    );
  }
}

/**
 * The split pattern rewritten for Oniguruma (Rust tokenizers) and @huggingface/tokenizers' and
 * transformers.js's JS rewrites as well as tiktoken, for a tokenizer.json: `(?i:…)` groups over ASCII
 * become per-letter classes with Rust's extra folds, possessive quantifiers become greedy; everything
 * else (\p{…}, \s, classes, look-ahead) is kept as written. Constructs the engines may read differently
 * (a class or a letter escape inside `(?i:…)`, inline flags) are an error.
 *
 *   portableSplitPattern("(?i:'s|'ll)|\\s++$")  // "(?:'[sSſ]|'[lL][lL])|\\s+$"
 */
export function portableSplitPattern(pattern: string): string {
  return translate(pattern, 'portable');
}

/** 'js': a JS RegExp source with explicit White_Space classes; 'portable': the pattern as written, made portable. */
function translate(p: string, target: 'js' | 'portable' = 'js'): string {
  const portable = target === 'portable';
  const unsupported = (what: string) =>
    new Error(`split pattern not supported${portable ? ' for tokenizer.json' : ''}: ${what} in ${p}`);
  let out = '';
  let inClass = false;
  const caseGroups: number[] = []; // paren depths at which a (?i: group was opened
  let depth = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      const n = p[i + 1];
      if (portable) {
        if (caseGroups.length && /[a-zA-Z]/.test(n) && !'pPsSdDwWrntfv'.includes(n))
          throw unsupported(`escape \\${n} inside (?i:…)`);
        const end = (n === 'p' || n === 'P') && p[i + 2] === '{' ? p.indexOf('}', i) : i + 1; // \p{L} whole: its '}' is no quantifier
        out += p.slice(i, end + 1);
        i = end;
        continue;
      }
      i++;
      if (n === 's') out += inClass ? WHITE_SPACE : `[${WHITE_SPACE}]`;
      else if (n === 'S') {
        if (inClass) throw unsupported('\\S inside a character class');
        out += `[^${WHITE_SPACE}]`;
      } else if (n === 'd') out += inClass ? '\\p{Nd}' : '[\\p{Nd}]';
      else if (n === 'p' || n === 'P') {
        const end = p.indexOf('}', i);
        out += '\\' + p.slice(i, end + 1);
        i = end;
      } else out += '\\' + n;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      if (portable && caseGroups.length) throw unsupported('a character class inside (?i:…)');
      inClass = true;
      out += c;
      if (p[i + 1] === '^') out += p[++i];
      if (p[i + 1] === ']') out += (portable ? '' : '\\') + p[++i];
      continue;
    }
    if (c === '(') {
      depth++;
      if (p.startsWith('(?i:', i)) {
        caseGroups.push(depth);
        out += '(?:';
        i += 3;
        continue;
      }
      if (portable && p[i + 1] === '?' && !/^\(\?(?::|=|!|<=|<!)/.test(p.slice(i)))
        throw unsupported(`group ${p.slice(i, i + 5)}…`);
      out += c;
      continue;
    }
    if (c === ')') {
      if (caseGroups[caseGroups.length - 1] === depth) caseGroups.pop();
      depth--;
      out += c;
      continue;
    }
    if ((c === '+' || c === '*' || c === '?' || c === '}') && p[i + 1] === '+') {
      out += c; // possessive → greedy
      i++;
      continue;
    }
    if (caseGroups.length && /[a-zA-Z]/.test(c)) {
      const lower = c.toLowerCase();
      out += `[${lower}${lower.toUpperCase()}${portable ? (PORTABLE_FOLDS[lower] ?? '') : (EXTRA_FOLDS[lower] ?? '')}]`;
      continue;
    }
    out += c;
  }
  return out;
}
