/**
 * Byte-pair merging of one pre-token, tiktoken's rule: start from single bytes, repeatedly merge the
 * adjacent pair of parts whose concatenated bytes have the lowest rank (leftmost on ties), until no
 * adjacent pair is a token. Worked example with ranks {a:0, b:1, c:2, ab:3, bc:4, abc:5}:
 *
 *   "abcb": [a][b][c][b] → pairs ab=3, bc=4, cb=–  → merge ab → [ab][c][b]
 *           pairs abc=5, cb=–                       → merge abc → [abc][b]   → ids [5, 1]
 *
 * Short pieces use tiktoken's scan (quadratic, but with a tiny constant); long ones (a minified line,
 * a base64 blob, a run of one letter) a min-heap of candidate pairs over a linked list of parts, so
 * that a 1 MB pre-token takes n log n, not n².
 *
 * A piece is a "byte string": a JS string whose char codes are the bytes (0–255), the key type of the
 * rank map.
 */

export type RankMap = ReadonlyMap<string, number>;

const HEAP_THRESHOLD = 64;

/**
 * A rank map with lookup tables in front: the rank of each byte and of each pair of bytes (65,536
 * entries), so that a piece's first round of pairs costs array reads, not string hashing; and a
 * direct-mapped cache (left rank, right rank) → merged rank for the later rounds (a part is always a
 * token, so its rank fixes its bytes).
 */
export interface RankTables {
  ranks: RankMap;
  byteRank: Int32Array;
  pairRank: Int32Array;
  mergeKeys: Float64Array;
  mergeRanks: Int32Array;
  mergeShift: number;
}

const MERGE_CACHE_BITS = 16;

const NONE = 0x7fffffff;

export function makeRankTables(ranks: RankMap, mergeCacheBits = MERGE_CACHE_BITS): RankTables {
  const byteRank = new Int32Array(256).fill(NONE);
  const pairRank = new Int32Array(65536).fill(NONE);
  for (const [bytes, rank] of ranks) {
    if (bytes.length === 1) byteRank[bytes.charCodeAt(0)] = rank;
    else if (bytes.length === 2) pairRank[(bytes.charCodeAt(0) << 8) | bytes.charCodeAt(1)] = rank;
  }
  for (let b = 0; b < 256; b++) {
    if (byteRank[b] === NONE)
      throw new Error(`byte 0x${b.toString(16)} has no rank: every single byte must be a token`);
  }
  const mergeKeys = new Float64Array(1 << mergeCacheBits).fill(-1);
  const mergeRanks = new Int32Array(1 << mergeCacheBits);
  return { ranks, byteRank, pairRank, mergeKeys, mergeRanks, mergeShift: 32 - mergeCacheBits };
}

/** Rank of the token made of parts `left` and `right`, which span piece[start, end); NONE if it is not a token. */
function mergedRank(
  tables: RankTables,
  piece: string,
  start: number,
  end: number,
  left: number,
  right: number,
): number {
  const key = left * 2097152 + right; // left·2²¹ + right: ranks are below 2²¹
  const slot = (Math.imul(left, 0x9e3779b1) ^ Math.imul(right, 0x85ebca77)) >>> tables.mergeShift;
  if (tables.mergeKeys[slot] === key) return tables.mergeRanks[slot];
  const r = tables.ranks.get(piece.substring(start, end)) ?? NONE;
  tables.mergeKeys[slot] = key;
  tables.mergeRanks[slot] = r;
  return r;
}

/** Appends the ranks (= token ids) of `piece`'s BPE parts to `out`. */
export function bytePairEncode(piece: string, tables: RankTables, out: number[]): void {
  const n = piece.length;
  if (n === 1) out.push(tables.byteRank[piece.charCodeAt(0)]);
  else if (n < HEAP_THRESHOLD) mergeByScan(piece, tables, out);
  else mergeWithHeap(piece, tables, out);
}

// Scratch arrays for mergeByScan (pieces are shorter than HEAP_THRESHOLD; encoding is not re-entrant).
const scanStarts = new Int32Array(HEAP_THRESHOLD + 1);
const scanPairRanks = new Int32Array(HEAP_THRESHOLD + 1);
const scanPartRanks = new Int32Array(HEAP_THRESHOLD + 1);

/**
 * tiktoken's algorithm: `starts` holds the part boundaries (the last one is n), `partRanks[i]` the
 * rank of part i, `pairRanks[i]` the rank of the pair of parts i and i+1, which spans
 * [starts[i], starts[i + 2]).
 */
function mergeByScan(piece: string, tables: RankTables, out: number[]): void {
  const { pairRank, byteRank } = tables;
  const n = piece.length;
  const starts = scanStarts;
  const pairRanks = scanPairRanks;
  const partRanks = scanPartRanks;
  for (let i = 0; i <= n; i++) starts[i] = i;
  for (let i = 0; i < n; i++) partRanks[i] = byteRank[piece.charCodeAt(i)];
  for (let i = 0; i < n - 1; i++)
    pairRanks[i] = pairRank[(piece.charCodeAt(i) << 8) | piece.charCodeAt(i + 1)];
  let parts = n; // number of parts; starts has parts + 1 entries
  const rankAt = (i: number) =>
    i + 2 <= parts
      ? mergedRank(tables, piece, starts[i], starts[i + 2], partRanks[i], partRanks[i + 1])
      : NONE;
  for (;;) {
    let best = NONE;
    let at = -1;
    for (let i = 0; i < parts - 1; i++) {
      if (pairRanks[i] < best) {
        best = pairRanks[i];
        at = i;
      }
    }
    if (at < 0) break;
    // Remove boundary at + 1: parts at and at + 1 become one.
    for (let i = at + 1; i < parts; i++) starts[i] = starts[i + 1];
    for (let i = at + 1; i < parts - 1; i++) pairRanks[i] = pairRanks[i + 1];
    for (let i = at + 1; i < parts - 1; i++) partRanks[i] = partRanks[i + 1];
    partRanks[at] = best;
    parts--;
    pairRanks[at] = rankAt(at);
    if (at > 0) pairRanks[at - 1] = rankAt(at - 1);
  }
  for (let i = 0; i < parts; i++) out.push(partRanks[i]);
}

const POS_SCALE = 2 ** 32;

/**
 * Heap version. Parts form a linked list over byte offsets (`next`/`prev`, a part starts at offset i and
 * ends at next[i]); `pairRank[i]` is the rank of the pair starting at part i, or NONE. The heap holds
 * keys rank·2³² + offset (smallest rank, then leftmost); a popped key whose rank no longer equals
 * pairRank[offset] is stale and skipped.
 */
function mergeWithHeap(piece: string, tables: RankTables, out: number[]): void {
  const { pairRank: pairTable, byteRank } = tables;
  const n = piece.length;
  const next = new Int32Array(n + 1);
  const prev = new Int32Array(n + 1);
  const pairRank = new Int32Array(n + 1).fill(NONE);
  const partRank = new Int32Array(n);
  const heap = new MinHeap(n);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
    partRank[i] = byteRank[piece.charCodeAt(i)];
  }
  next[n] = n;
  for (let i = 0; i < n - 1; i++) {
    const r = pairTable[(piece.charCodeAt(i) << 8) | piece.charCodeAt(i + 1)];
    if (r !== NONE) {
      pairRank[i] = r;
      heap.push(r * POS_SCALE + i);
    }
  }
  const update = (i: number) => {
    const j = next[i];
    const k = j < n ? next[j] : n;
    const r = j < n ? mergedRank(tables, piece, i, k, partRank[i], partRank[j]) : NONE;
    pairRank[i] = r;
    if (r !== NONE) heap.push(r * POS_SCALE + i);
  };
  while (heap.size) {
    const key = heap.pop();
    const rank = Math.floor(key / POS_SCALE);
    const i = key - rank * POS_SCALE;
    if (pairRank[i] !== rank) continue;
    const j = next[i];
    const k = next[j];
    partRank[i] = rank;
    next[i] = k;
    if (k < n) prev[k] = i;
    pairRank[j] = NONE;
    update(i);
    if (i > 0) update(prev[i]);
  }
  for (let i = 0; i < n; i = next[i]) out.push(partRank[i]);
}

/** Binary min-heap of non-negative doubles (exact integers below 2⁵³). */
export class MinHeap {
  private keys: Float64Array;
  size = 0;
  constructor(capacity: number) {
    this.keys = new Float64Array(Math.max(16, capacity));
  }
  push(key: number): void {
    if (this.size === this.keys.length) {
      const grown = new Float64Array(this.keys.length * 2);
      grown.set(this.keys);
      this.keys = grown;
    }
    const h = this.keys;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent] <= key) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = key;
  }
  pop(): number {
    const h = this.keys;
    const top = h[0];
    const last = h[--this.size];
    let i = 0;
    const n = this.size;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && h[c + 1] < h[c]) c++;
      if (h[c] >= last) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
    return top;
  }
}
