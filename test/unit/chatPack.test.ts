/**
 * Packing against brute force: random conversations whose ids name (conversation, position) are packed,
 * and the rows are read back token by token: every conversation is whole (or, split, covered with each
 * token a target exactly once), padding has weight 0, no two rows could share one, and the row count is
 * within best-fit decreasing's bound of the optimum found by exhaustive search.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ConversationTooLongError,
  packConversations,
  packedBatch,
  type PackItem,
  type Packed,
} from '../../src/engine/chat/pack';
import { Rng } from '../../src/engine/train/rng';

const PAD = 999_999;
const id = (item: number, k: number) => item * 1000 + k;

function randomItems(rng: Rng, n: number, maxLen: number): PackItem[] {
  return Array.from({ length: n }, (_, item) => {
    const len = 1 + rng.randint(maxLen);
    return {
      ids: Array.from({ length: len }, (_, k) => id(item, k)),
      weights: Array.from({ length: len }, () => (rng.next() < 0.5 ? 1 : rng.next())),
    };
  });
}

/** Reads the rows back: where each (item, k) sits, as [row, column] pairs. */
function occurrences(p: Packed): Map<number, [number, number][]> {
  const R = p.blockSize + 1;
  const at = new Map<number, [number, number][]>();
  for (let r = 0; r < p.rows; r++)
    for (let c = 0; c < R; c++) {
      const v = p.tokens[r * R + c];
      if (v === PAD) {
        assert.equal(p.weights[r * R + c], 0, `pad at row ${r} column ${c} has weight`);
        continue;
      }
      (at.get(v) ?? at.set(v, []).get(v)!).push([r, c]);
    }
  return at;
}

function checkPacked(items: PackItem[], p: Packed, T: number, split: boolean): void {
  const R = T + 1;
  assert.equal(p.tokens.length, p.rows * R);
  const at = occurrences(p);
  let pads = 0;
  for (const v of p.tokens) if (v === PAD) pads++;
  assert.equal(p.padding, pads);
  items.forEach((it, item) => {
    const n = it.ids.length;
    for (let k = 0; k < n; k++) {
      const where = at.get(id(item, k)) ?? [];
      assert.ok(where.length >= 1, `token ${k} of conversation ${item} is missing`);
      // each token but the first is a target exactly once after its predecessor, with its weight; any
      // other place it sits in (a split piece's first token) carries no weight
      const inContext = where.filter(
        ([r, c]) => c >= 1 && k >= 1 && p.tokens[r * R + c - 1] === id(item, k - 1),
      );
      assert.equal(inContext.length, k === 0 ? 0 : 1, `token ${k} of ${item}: ${inContext.length} targets`);
      for (const [r, c] of where) {
        const w = p.weights[r * R + c];
        if (inContext.some(([r2, c2]) => r2 === r && c2 === c)) assert.equal(w, Math.fround(it.weights[k]));
        else assert.equal(w, 0, `token ${k} of ${item} weighted out of context`);
      }
    }
    if (!split || n <= R) {
      // never cut: all its tokens in one row, in order
      const [[r0, c0]] = at.get(id(item, 0))!;
      for (let k = 0; k < n; k++) assert.deepEqual(at.get(id(item, k)), [[r0, c0 + k]]);
    }
  });
  // no two rows would fit in one (else best fit would have put the later one's pieces in the earlier)
  const used = Array.from(
    { length: p.rows },
    (_, r) => p.tokens.subarray(r * R, r * R + R).filter((v) => v !== PAD).length,
  );
  for (let a = 0; a < p.rows; a++)
    for (let b = a + 1; b < p.rows; b++) assert.ok(used[a] + used[b] > R, `rows ${a} and ${b} fit in one`);
}

/** The fewest rows of capacity R that hold `lengths`, by exhaustive search. */
function optimalRows(lengths: number[], R: number): number {
  const sorted = [...lengths].sort((a, b) => b - a);
  let best = sorted.length;
  const bins: number[] = [];
  const go = (i: number) => {
    if (bins.length >= best) return;
    if (i === sorted.length) return void (best = bins.length);
    const tried = new Set<number>();
    for (let b = 0; b < bins.length; b++)
      if (bins[b] + sorted[i] <= R && !tried.has(bins[b])) {
        tried.add(bins[b]);
        bins[b] += sorted[i];
        go(i + 1);
        bins[b] -= sorted[i];
      }
    bins.push(sorted[i]);
    go(i + 1);
    bins.pop();
  };
  go(0);
  return best;
}

test('random conversations pack whole, weights kept, within 11/9 of the optimal row count', () => {
  const rng = new Rng(15);
  for (let trial = 0; trial < 300; trial++) {
    const T = 1 + rng.randint(24);
    const items = randomItems(rng, 1 + rng.randint(9), T + 1);
    const p = packConversations(items, { blockSize: T, padId: PAD });
    checkPacked(items, p, T, false);
    assert.equal(p.split, 0);
    const opt = optimalRows(
      items.map((it) => it.ids.length),
      T + 1,
    );
    assert.ok(p.rows <= Math.floor((11 / 9) * opt + 6 / 9), `${p.rows} rows where ${opt} suffice`);
  }
});

test('many conversations: rows are nearly full (best fit), a larger case for the pair property', () => {
  const rng = new Rng(7);
  const T = 64;
  const items = randomItems(rng, 2000, 40);
  const p = packConversations(items, { blockSize: T, padId: PAD });
  checkPacked(items, p, T, false);
  const tokens = items.reduce((a, it) => a + it.ids.length, 0);
  assert.ok(p.padding / (p.rows * (T + 1)) < 0.02, `padding ${p.padding} of ${p.rows * (T + 1)}`);
  assert.equal(p.rows * (T + 1) - p.padding, tokens);
});

test('a conversation longer than the block is refused with its file:line, or split when allowed', () => {
  const rng = new Rng(3);
  const items = randomItems(rng, 6, 5);
  items.push({ ...randomItems(rng, 1, 1)[0], ids: Array.from({ length: 23 }, (_, k) => id(6, k)) });
  items[6] = { ...items[6], weights: Array.from({ length: 23 }, (_, k) => (k % 3 ? 1 : 0.5)) };
  items[6].source = { file: 'chat.jsonl', line: 42 };
  assert.throws(
    () => packConversations(items, { blockSize: 7, padId: PAD }),
    (e: unknown) =>
      e instanceof ConversationTooLongError &&
      /^chat\.jsonl:42: the conversation is 23 tokens, longer than the block of 7 \+ 1/.test(e.message),
  );
  for (let trial = 0; trial < 100; trial++) {
    const T = 1 + rng.randint(10);
    const many = randomItems(rng, 1 + rng.randint(8), 3 * T + 3);
    const p = packConversations(many, { blockSize: T, padId: PAD, split: true });
    checkPacked(many, p, T, true);
    assert.equal(p.split, many.filter((it) => it.ids.length > T + 1).length);
  }
});

test('packedBatch: inputs are a row’s first T tokens, targets and weights its last T', () => {
  const rng = new Rng(5);
  const T = 6;
  const items = randomItems(rng, 12, T + 1);
  const p = packConversations(items, { blockSize: T, padId: PAD });
  const rows = [p.rows - 1, 0, 0];
  const b = packedBatch(p, rows);
  rows.forEach((r, i) => {
    const row = Array.from(p.tokens.subarray(r * (T + 1), (r + 1) * (T + 1)));
    assert.deepEqual(Array.from(b.idx.subarray(i * T, (i + 1) * T), Number), row.slice(0, T));
    assert.deepEqual(Array.from(b.targets.subarray(i * T, (i + 1) * T), Number), row.slice(1));
    assert.deepEqual(
      Array.from(b.weights.subarray(i * T, (i + 1) * T)),
      Array.from(p.weights.subarray(r * (T + 1) + 1, (r + 1) * (T + 1))),
    );
  });
  assert.throws(() => packedBatch(p, [p.rows]), /no row/);
});

test('longest first: lengths 2, 2, 2, 5, 5, 5 fill 3 rows of 7 (in file order they would need 4)', () => {
  const items = [2, 2, 2, 5, 5, 5].map((len, item) => ({
    ids: Array.from({ length: len }, (_, k) => id(item, k)),
    weights: new Array<number>(len).fill(1),
  }));
  const p = packConversations(items, { blockSize: 6, padId: PAD });
  checkPacked(items, p, 6, false);
  assert.equal(p.rows, optimalRows([2, 2, 2, 5, 5, 5], 7));
  assert.equal(p.rows, 3);
});
