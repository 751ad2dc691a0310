/**
 * Packing rendered conversations into training rows of T + 1 tokens (inputs are a row's first T, targets
 * its last T), with their loss weights; padding fills the rest of a row with weight 0.
 *
 *   const packed = packConversations(rendered, { blockSize: 8, padId: tokens.imEnd });
 *   // lengths 5, 4, 3 and 2 into rows of 9:  row 0 = [5-token conversation | 4-token one]
 *   //                                        row 1 = [3 | 2 | pad pad pad pad]
 *   const { idx, targets, weights } = packedBatch(packed, [1, 0]);   // (B, T) each, B = 2
 *
 * Conversations are never cut to fill a row: best-fit decreasing places each (longest first) in the
 * row it fills most tightly, or opens a row, so any two rows together hold more than one row's worth
 * and the number of rows stays within 11/9 of the fewest possible (+1). Rows are independent samples:
 * the conversations sharing a row attend to each other's tokens (no per-conversation mask, as
 * nanoGPT's documents) but each one's first token (<|im_start|>) is never a target.
 *
 * A conversation longer than a row is refused (ConversationTooLongError names it, its length and the
 * block size) unless `split`: it is then cut into pieces of T + 1 tokens that overlap by one token, so
 * each of its tokens but the first is a target exactly once, though a later piece no longer sees the
 * start of its conversation; `split` in the result counts such conversations so a caller can say so.
 */

/** A rendered conversation (chatml.ts's RenderedChat), with where it came from for messages. */
export interface PackItem {
  ids: readonly number[];
  weights: readonly number[];
  source?: { file: string; line: number };
}

export interface PackOptions {
  /** T: a row holds T + 1 tokens. */
  blockSize: number;
  /** The id that fills the end of a row (weight 0). */
  padId: number;
  /** Cut conversations longer than a row instead of refusing them. Default false. */
  split?: boolean;
}

/** Where a piece of conversation `item` (its tokens [start, start + length)) lies: row and offset. */
export interface Placement {
  item: number;
  start: number;
  length: number;
  row: number;
  offset: number;
}

export interface Packed {
  blockSize: number;
  rows: number;
  /** (rows, T + 1) token ids. */
  tokens: Int32Array;
  /** (rows, T + 1) loss weight of each token as a target (the first column is never a target). */
  weights: Float32Array;
  placements: Placement[];
  /** How many conversations were longer than a row and split. */
  split: number;
  /** Pad tokens in all rows. */
  padding: number;
}

export class ConversationTooLongError extends Error {
  constructor(
    readonly item: number,
    readonly length: number,
    readonly blockSize: number,
    source?: { file: string; line: number },
  ) {
    const where = source ? `${source.file}:${source.line}` : `conversation ${item + 1}`;
    super(
      `${where}: the conversation is ${length} tokens, longer than the block of ${blockSize} + 1; ` +
        'use a larger block size, shorten or remove it, or allow splitting long conversations',
    );
    this.name = 'ConversationTooLongError';
  }
}

/** Pieces of at most T + 1 tokens, overlapping by one token, that cover tokens [0, n). */
function pieces(n: number, T: number): [number, number][] {
  const out: [number, number][] = [];
  for (let start = 0; ; start += T) {
    const end = Math.min(start + T + 1, n);
    out.push([start, end - start]);
    if (end === n) return out;
  }
}

/** Packs `items` into rows of T + 1 tokens (see the file's header). */
export function packConversations(items: readonly PackItem[], o: PackOptions): Packed {
  const T = o.blockSize;
  const R = T + 1;
  if (!Number.isInteger(T) || T < 1)
    throw new Error(`packing: block size must be a positive integer, got ${T}`);
  const todo: Omit<Placement, 'row' | 'offset'>[] = [];
  let split = 0;
  items.forEach((it, item) => {
    const n = it.ids.length;
    if (it.weights.length !== n)
      throw new Error(`packing: conversation ${item + 1} has ${n} ids but ${it.weights.length} weights`);
    if (n === 0) return;
    if (n > R && !o.split) throw new ConversationTooLongError(item, n, T, it.source);
    if (n > R) split++;
    for (const [start, length] of pieces(n, T)) todo.push({ item, start, length });
  });
  todo.sort((a, b) => b.length - a.length || a.item - b.item || a.start - b.start); // longest first, stable

  const free: number[] = []; // free[row] = tokens left
  const byFree: number[][] = Array.from({ length: R + 1 }, () => []); // rows by tokens left
  const placements: Placement[] = [];
  for (const p of todo) {
    let r = p.length;
    while (r <= R && !byFree[r].length) r++;
    const row = r <= R ? byFree[r].pop()! : free.push(R) - 1;
    const offset = R - free[row];
    free[row] -= p.length;
    if (free[row]) byFree[free[row]].push(row);
    placements.push({ ...p, row, offset });
  }

  const rows = free.length;
  const tokens = new Int32Array(rows * R).fill(o.padId);
  const weights = new Float32Array(rows * R);
  for (const p of placements) {
    const it = items[p.item];
    const at = p.row * R + p.offset;
    for (let k = 0; k < p.length; k++) {
      tokens[at + k] = it.ids[p.start + k];
      weights[at + k] = k === 0 ? 0 : it.weights[p.start + k]; // a piece's first token is not its target
    }
  }
  const padding = free.reduce((a, b) => a + b, 0);
  return { blockSize: T, rows, tokens, weights, placements, split, padding };
}

/** The feeds of a weighted training step for `rows` of `packed`: idx, targets and weights, (B, T) each. */
export function packedBatch(
  packed: Packed,
  rows: readonly number[],
): { idx: BigInt64Array; targets: BigInt64Array; weights: Float32Array } {
  const T = packed.blockSize;
  const B = rows.length;
  const idx = new BigInt64Array(B * T);
  const targets = new BigInt64Array(B * T);
  const weights = new Float32Array(B * T);
  rows.forEach((row, b) => {
    if (!(row >= 0 && row < packed.rows)) throw new Error(`packing: no row ${row} (${packed.rows} rows)`);
    const at = row * (T + 1);
    for (let t = 0; t < T; t++) {
      idx[b * T + t] = BigInt(packed.tokens[at + t]);
      targets[b * T + t] = BigInt(packed.tokens[at + t + 1]);
      weights[b * T + t] = packed.weights[at + t + 1];
    }
  });
  return { idx, targets, weights };
}
