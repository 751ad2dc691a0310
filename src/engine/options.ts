/**
 * What the engine does with an option table (src/protocol/options.ts): check values, read a run file's
 * fields, parse command-line flags, write --help lines and the JSON schema. Every message names the
 * field and says what it must be.
 *
 *   problemWith({ type: 'int', min: 1, doc: '' }, 0.5)      // 'must be a whole number ≥ 1, got 0.5'
 *   parseFlags(['--max-iters', '20', 'a.txt'], TRAIN_OPTIONS)  // { values: { maxIters: 20 }, rest: ['a.txt'], problems: [] }
 */
import * as path from 'node:path';
import type { DefaultValues, OptionSpec, OptionTable, OptionValues } from '../protocol/options';

/** The flag of an option without `--` (its name in kebab-case unless the table says otherwise), or undefined. */
export function flagOf(name: string, s: OptionSpec): string | undefined {
  if (s.flag === false) return undefined;
  return s.flag ?? name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

function lowerBound(s: OptionSpec): string | undefined {
  if (s.gt !== undefined) return `> ${s.gt}`;
  return s.min !== undefined ? `≥ ${s.min}` : undefined;
}

function upperBound(s: OptionSpec): string | undefined {
  if (s.lt !== undefined) return `< ${s.lt}`;
  return s.max !== undefined ? `≤ ${s.max}` : undefined;
}

/** What a value of `s` must be, in words: "a whole number ≥ 1", "a number > 0 and ≤ 1", "one of cpu, cuda". */
export function expected(s: OptionSpec): string {
  switch (s.type) {
    case 'bool':
      return 'true or false';
    case 'enum':
      return `one of ${(s.values ?? []).join(', ')}`;
    case 'str':
      if (s.pattern) return `text matching ${s.pattern}`;
      return s.path ? 'a path' : 'text';
    case 'list':
      return s.path ? 'a path or a non-empty list of paths' : 'a non-empty list of text';
  }
  const bounds = [lowerBound(s), upperBound(s)].filter((b) => b !== undefined);
  return [s.type === 'int' ? 'a whole number' : 'a number', bounds.join(' and ')].filter(Boolean).join(' ');
}

function inRange(s: OptionSpec, v: number): boolean {
  return (
    (s.min === undefined || v >= s.min) &&
    (s.max === undefined || v <= s.max) &&
    (s.gt === undefined || v > s.gt) &&
    (s.lt === undefined || v < s.lt)
  );
}

/** True when `v` is a value of `s` (a list must already be a list here). */
export function isValue(s: OptionSpec, v: unknown): boolean {
  switch (s.type) {
    case 'bool':
      return typeof v === 'boolean';
    case 'enum':
      return typeof v === 'string' && (s.values ?? []).includes(v);
    case 'str':
      return typeof v === 'string' && (!s.pattern || new RegExp(s.pattern).test(v)) && !(s.path && v === '');
    case 'list':
      return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && x !== '');
    case 'int':
      return typeof v === 'number' && Number.isSafeInteger(v) && inRange(s, v);
    case 'num':
      return typeof v === 'number' && Number.isFinite(v) && inRange(s, v);
  }
}

/** Why `v` is not a value of `s` ("must be a whole number ≥ 1, got 0.5"), or undefined when it is. */
export function problemWith(s: OptionSpec, v: unknown, shown?: string): string | undefined {
  if (isValue(s, v)) return undefined;
  return `must be ${expected(s)}, got ${shown ?? (typeof v === 'number' ? String(v) : JSON.stringify(v))}`;
}

/**
 * The problems of settings built in code (a TrainConfig): "evalInterval must be a whole number ≥ 0,
 * got 0.5". With `resolved`, the options that have a default must be there. Keys of `o` that are
 * not in the table are not looked at.
 */
export function checkOptions(table: OptionTable, o: object, resolved = false): string[] {
  const values = o as Record<string, unknown>;
  return Object.entries(table).flatMap(([k, s]) => {
    if (values[k] === undefined)
      return resolved && (s.default !== undefined || s.auto) ? [`${k} is missing: ${s.doc}`] : [];
    const p = problemWith(s, values[k]);
    return p ? [`${k} ${p}`] : [];
  });
}

/** The fixed defaults of a table. */
export function defaultsOf<T extends OptionTable>(table: T): DefaultValues<T> {
  return Object.fromEntries(
    Object.entries(table)
      .filter(([, s]) => s.default !== undefined)
      .map(([k, s]) => [k, s.default]),
  ) as DefaultValues<T>;
}

/** The table's fields given in `o` (undefined ones left out). */
export function pickOptions<T extends OptionTable>(table: T, o: object): OptionValues<T> {
  const values = o as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(table)
      .filter((k) => values[k] !== undefined)
      .map((k) => [k, values[k]]),
  ) as OptionValues<T>;
}

function resolvePath(s: OptionSpec, v: string, base: string): string {
  return s.names?.includes(v) ? v : path.resolve(base, v);
}

/**
 * Reads the fields of a JSON object (a run file) against a table: a list may be given as one string;
 * paths resolve against `base`. Every problem is listed with its field; `ignore` names keys that are
 * not options ($schema), and with `fileOnly` the options a run file cannot set are refused.
 */
export function readOptions<T extends OptionTable>(
  table: T,
  o: Record<string, unknown>,
  how: { base: string; fileOnly?: boolean; ignore?: readonly string[] },
): { values: OptionValues<T>; problems: string[] } {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [k, raw] of Object.entries(o)) {
    if (how.ignore?.includes(k)) continue;
    const s = Object.hasOwn(table, k) ? table[k] : undefined;
    if (!s) {
      problems.push(`unknown field "${k}"`);
      continue;
    }
    if (how.fileOnly && s.file === false) {
      const flag = flagOf(k, s);
      problems.push(`"${k}" is not a run-file field${flag ? ` (it is --${flag} of llm-lens train)` : ''}`);
      continue;
    }
    const v = s.type === 'list' && typeof raw === 'string' ? [raw] : raw;
    const p = problemWith(s, v);
    if (p) problems.push(`"${k}" ${p}`);
    else if (s.path && typeof v === 'string') values[k] = resolvePath(s, v, how.base);
    else if (s.path && Array.isArray(v)) values[k] = v.map((x: string) => resolvePath(s, x, how.base));
    else values[k] = v;
  }
  for (const [k, s] of Object.entries(table))
    if (s.required && o[k] === undefined) problems.push(`"${k}" is missing: ${s.doc}`);
  return { values: values as OptionValues<T>, problems };
}

/** A flag's value from its text: numbers parsed, the rest as given. */
function fromText(s: OptionSpec, text: string): unknown {
  if (s.type !== 'int' && s.type !== 'num') return text;
  return text.trim() === '' ? NaN : Number(text);
}

/**
 * Parses command-line arguments against a table: `--flag value`, `--flag=value`, a list's flag given
 * again adds to it, a boolean is `--flag` (true) or `--no-flag` (false; a flag that starts with no- is
 * only a switch). Returns the values, the positional arguments and every problem.
 */
export function parseFlags<T extends OptionTable>(
  args: readonly string[],
  table: T,
): { values: OptionValues<T>; rest: string[]; problems: string[] } {
  const byFlag = new Map<string, [string, OptionSpec, boolean]>();
  for (const [k, s] of Object.entries(table)) {
    const flag = flagOf(k, s);
    if (flag === undefined) continue;
    byFlag.set(flag, [k, s, true]);
    if (s.type === 'bool' && !flag.startsWith('no-')) byFlag.set(`no-${flag}`, [k, s, false]);
  }
  const values: Record<string, unknown> = {};
  const rest: string[] = [];
  const problems: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) {
      rest.push(a);
      continue;
    }
    const [flag, inline] = a.slice(2).split(/=(.*)/s, 2);
    const known = byFlag.get(flag);
    if (!known) {
      problems.push(`unknown option --${flag}`);
      continue;
    }
    const [k, s, on] = known;
    if (s.type === 'bool') {
      if (inline !== undefined) problems.push(`--${flag} takes no value`);
      values[k] = on;
      continue;
    }
    const text = inline ?? args[++i];
    if (text === undefined) {
      problems.push(`--${flag} needs a value`);
      continue;
    }
    if (s.type === 'list') {
      values[k] = [...((values[k] as string[] | undefined) ?? []), text];
      continue;
    }
    const v = fromText(s, text);
    const p = problemWith(s, v, text);
    if (p) problems.push(`--${flag} ${p}`);
    else values[k] = v;
  }
  return { values: values as OptionValues<T>, rest, problems };
}

const META: Record<OptionSpec['type'], string> = {
  int: 'N',
  num: 'X',
  bool: '',
  str: 'TEXT',
  list: 'TEXT',
  enum: '',
};

function metaOf(s: OptionSpec): string {
  if (s.meta) return s.meta;
  if (s.type === 'enum') return (s.values ?? []).join('|');
  if (s.path) return s.names ? 'NAME|PATH' : 'PATH';
  return META[s.type];
}

function shown(v: number | boolean | string): string {
  return typeof v === 'string' && !/^[\w./-]+$/.test(v) ? JSON.stringify(v) : String(v);
}

/** An option's range and default in words: "A whole number ≥ 1; default: the preset's." */
export function rangeAndDefault(s: OptionSpec): string {
  const range = s.type === 'int' || s.type === 'num' || s.pattern ? expected(s) : '';
  const fallback = s.default !== undefined ? shown(s.default) : s.auto;
  const parts = [range, fallback !== undefined ? `default: ${fallback}` : ''].filter(Boolean).join('; ');
  return parts ? parts[0].toUpperCase() + parts.slice(1) + '.' : '';
}

/** Words of `text` in lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

/**
 * Help lines of a table, the flag then its doc, range and default:
 *   --max-iters N             Optimizer steps. A whole number ≥ 1; default: the preset's.
 */
export function flagHelp(table: OptionTable, width = 100): string[] {
  const rows = Object.entries(table).flatMap(([k, s]) => {
    const flag = flagOf(k, s);
    if (flag === undefined) return [];
    const bool = s.type === 'bool' && !flag.startsWith('no-');
    const left = bool ? `--[no-]${flag}` : [`--${flag}`, metaOf(s)].filter(Boolean).join(' ');
    const repeat = s.type === 'list' ? 'Repeatable.' : '';
    return [[left, [s.doc, repeat, rangeAndDefault(s)].filter(Boolean).join(' ')]];
  });
  const column = 2 + Math.min(28, Math.max(...rows.map(([l]) => l.length)) + 2);
  return rows.flatMap(([left, right]) => {
    const text = wrap(right, width - column).map((l) => ' '.repeat(column) + l);
    const head = `  ${left}`;
    return head.length < column ? [head + text[0].slice(head.length), ...text.slice(1)] : [head, ...text];
  });
}

/** The JSON schema (draft-07) of one option. */
export function jsonSchemaOf(s: OptionSpec): Record<string, unknown> {
  const describe = { description: [s.doc, s.auto ? `Default: ${s.auto}.` : ''].filter(Boolean).join(' ') };
  const fixed = s.default !== undefined ? { default: s.default } : {};
  switch (s.type) {
    case 'bool':
      return { type: 'boolean', ...fixed, ...describe };
    case 'enum':
      return { enum: s.values, ...fixed, ...describe };
    case 'str':
      return {
        type: 'string',
        ...(s.pattern ? { pattern: s.pattern } : {}),
        ...(s.path ? { minLength: 1 } : {}),
        ...fixed,
        ...describe,
        ...(s.names ? { examples: s.names } : {}),
      };
    case 'list': {
      const item = { type: 'string', minLength: 1 };
      return { anyOf: [item, { type: 'array', minItems: 1, items: item }], ...describe };
    }
  }
  return {
    type: s.type === 'int' ? 'integer' : 'number',
    ...(s.min !== undefined ? { minimum: s.min } : {}),
    ...(s.gt !== undefined ? { exclusiveMinimum: s.gt } : {}),
    ...(s.max !== undefined ? { maximum: s.max } : {}),
    ...(s.lt !== undefined ? { exclusiveMaximum: s.lt } : {}),
    ...fixed,
    ...describe,
  };
}
