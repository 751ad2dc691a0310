/**
 * Option tables: each option of a command written once, as plain data — its type, range, default,
 * command-line flag and one line of doc. The engine reads the tables (src/engine/options.ts: checking,
 * flag parsing, --help, JSON schema); the types below read them too, so a field added to a table is a
 * field of every type made from it.
 *
 *   const T = { maxIters: { type: 'int', min: 1, doc: 'Optimizer steps.' } } as const satisfies OptionTable;
 *   type V = OptionValues<typeof T>;   // { maxIters?: number }
 */

/** What an option holds on the wire and in TypeScript. */
interface TypeOfKind {
  int: number;
  num: number;
  bool: boolean;
  str: string;
  /** One string or a list of them (a run file may give one path for a list). */
  list: string[];
  enum: string;
}

export interface OptionSpec {
  readonly type: keyof TypeOfKind;
  /** One line: --help and the JSON schema's description. */
  readonly doc: string;
  /** Inclusive bounds of int and num. */
  readonly min?: number;
  readonly max?: number;
  /** Exclusive bounds of int and num. */
  readonly gt?: number;
  readonly lt?: number;
  /** enum: the values it takes. */
  readonly values?: readonly string[];
  /** str: a regular expression the whole value matches. */
  readonly pattern?: string;
  /** A fixed default, filled in when the option is not given. */
  readonly default?: number | boolean | string;
  /** A default computed from the preset or other options, in words (prepareRun computes it). */
  readonly auto?: string;
  /** The command-line flag without `--` (default: the name in kebab-case); false: none. */
  readonly flag?: string | false;
  /** false: not a field of a hand-written run file (the extension sets it in the run's request). */
  readonly file?: false;
  /** A run file must give it. */
  readonly required?: true;
  /** str and list: paths, relative to the run file's folder; `names` are values that are not paths. */
  readonly path?: true;
  readonly names?: readonly string[];
  /** The value's placeholder in --help (default N, X, TEXT or a|b|c). */
  readonly meta?: string;
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

export type OptionValue<S extends OptionSpec> = S extends { values: readonly (infer V)[] }
  ? V
  : TypeOfKind[S['type']];

/** What a person may give: every option, optional. */
export type OptionValues<T extends OptionTable> = { -readonly [K in keyof T]?: OptionValue<T[K]> };

type KeysWith<T extends OptionTable, P> = { [K in keyof T]: T[K] extends P ? K : never }[keyof T];

/** The options with a fixed default, filled in. */
export type DefaultValues<T extends OptionTable> = {
  -readonly [K in KeysWith<T, { default: unknown }>]: OptionValue<T[K]>;
};

/** The options whose default is computed (`auto`). */
export type AutoValues<T extends OptionTable> = {
  -readonly [K in KeysWith<T, { auto: string }>]: OptionValue<T[K]>;
};

/** After defaults: options with a default (fixed or computed) are present, the others optional. */
export type ResolvedOptions<T extends OptionTable> = DefaultValues<T> &
  AutoValues<T> & {
    -readonly [K in Exclude<keyof T, KeysWith<T, { default: unknown } | { auto: string }>>]?: OptionValue<
      T[K]
    >;
  };
