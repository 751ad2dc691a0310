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

/** Appends the ranks (= token ids) of `piece`'s BPE parts to `out`. Every single byte must have a rank. */
export function bytePairEncode(piece: string, ranks: RankMap, out: number[]): void {
  const n = piece.length;
  if (n === 1) {
    out.push(rankOfByte(piece, ranks));
    return;
  }
  if (n < HEAP_THRESHOLD) mergeByScan(piece, ranks, out);
  else mergeWithHeap(piece, ranks, out);
}

function rankOfByte(b: string, ranks: RankMap): number {
  const r = ranks.get(b);
  if (r === undefined) throw new Error(`byte 0x${b.charCodeAt(0).toString(16)} has no rank: every single byte must be a token`);
  return r;
}

const NONE = 0x7fffffff;

/** tiktoken's algorithm: parts as boundaries, each holding the rank of the pair that starts there. */
function mergeByScan(piece: string, ranks: RankMap, out: number[]): void {
  const n = piece.length;
  const starts: number[] = [];
  const pairRanks: number[] = [];
  for (let i = 0; i <= n; i++) starts.push(i);
  for (let i = 0; i < n - 1; i++) pairRanks.push(ranks.get(piece.substring(i, i + 2)) ?? NONE);
  pairRanks.push(NONE, NONE);
  // After a merge the pair at part i spans [starts[i], starts[i + 2]).
  const pairRankAt = (i: number) => (i + 2 < starts.length ? ranks.get(piece.substring(starts[i], starts[i + 2])) ?? NONE : NONE);
  for (;;) {
    let best = NONE;
    let at = -1;
    for (let i = 0; i < pairRanks.length - 2; i++) {
      if (pairRanks[i] < best) {
        best = pairRanks[i];
        at = i;
      }
    }
    if (at < 0) break;
    starts.splice(at + 1, 1);
    pairRanks.splice(at + 1, 1);
    pairRanks[at] = pairRankAt(at);
    if (at > 0) pairRanks[at - 1] = pairRankAt(at - 1);
  }
  for (let i = 0; i + 1 < starts.length; i++) {
    const part = piece.substring(starts[i], starts[i + 1]);
    out.push(part.length === 1 ? rankOfByte(part, ranks) : (ranks.get(part) as number));
  }
}

const POS_SCALE = 2 ** 32;

/**
 * Heap version. Parts form a linked list over byte offsets (`next`/`prev`, a part starts at offset i and
 * ends at next[i]); `pairRank[i]` is the rank of the pair starting at part i, or NONE. The heap holds
 * keys rank·2³² + offset (smallest rank, then leftmost); a popped key whose rank no longer equals
 * pairRank[offset] is stale and skipped.
 */
function mergeWithHeap(piece: string, ranks: RankMap, out: number[]): void {
  const n = piece.length;
  const next = new Int32Array(n + 1);
  const prev = new Int32Array(n + 1);
  const pairRank = new Int32Array(n + 1).fill(NONE);
  const partRank = new Int32Array(n);
  const heap = new MinHeap(n);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
    partRank[i] = rankOfByte(piece[i], ranks);
  }
  next[n] = n;
  for (let i = 0; i < n - 1; i++) {
    const r = ranks.get(piece.substring(i, i + 2));
    if (r !== undefined) {
      pairRank[i] = r;
      heap.push(r * POS_SCALE + i);
    }
  }
  const update = (i: number) => {
    const j = next[i];
    const k = j < n ? next[j] : n;
    const r = j < n ? ranks.get(piece.substring(i, k)) : undefined;
    pairRank[i] = r ?? NONE;
    if (r !== undefined) heap.push(r * POS_SCALE + i);
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
