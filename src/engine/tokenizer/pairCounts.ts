/**
 * Counts of adjacent id pairs for the BPE trainer: an open-addressing hash table over typed arrays
 * (a JS Map boxes and hashes each number; this is ~2x faster on the trainer's hot path). Keys are
 * left·V + right, non-negative integers below 2⁵³. A count that drops to 0 keeps its slot until the
 * table grows. Each key also has a list of the chunks ("words") that hold it, as linked lists in one
 * typed-array pool (no per-pair arrays for the garbage collector). `add` remembers which keys changed
 * since `startChanges()`:
 *
 *   const c = new PairCounts(); c.startChanges();
 *   c.add(97 * 300 + 98, 2); c.add(97 * 300 + 98, -1)   // count 1
 *   c.changedKeys()                                    // [29198] (once, however often it changed)
 */
export class PairCounts {
  private keys: Float64Array;
  private counts: Float64Array;
  private stamps: Int32Array;
  /** Per slot: the first entry of its word list in the pool, or -1. */
  private heads: Int32Array;
  private poolWord = new Int32Array(1 << 16);
  private poolNext = new Int32Array(1 << 16);
  private poolSize = 0;
  private mask: number;
  private used = 0;
  private stamp = 0;
  private changed: number[] = [];

  constructor(capacity = 1 << 12) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.keys = new Float64Array(size).fill(-1);
    this.counts = new Float64Array(size);
    this.stamps = new Int32Array(size);
    this.heads = new Int32Array(size).fill(-1);
    this.mask = size - 1;
  }

  private slotOf(key: number): number {
    const lo = (key % 4294967296) | 0;
    const hi = (key / 4294967296) | 0;
    let slot = (Math.imul(lo ^ Math.imul(hi, 0x85ebca77), 0x9e3779b1) >>> 7) & this.mask;
    const keys = this.keys;
    while (keys[slot] !== key && keys[slot] !== -1) slot = (slot + 1) & this.mask;
    return slot;
  }

  get(key: number): number {
    const slot = this.slotOf(key);
    return this.keys[slot] === key ? this.counts[slot] : 0;
  }

  /** Adds d to key's count and returns the new count; `word` ≥ 0 joins key's word list (once in a row). */
  add(key: number, d: number, word = -1): number {
    let slot = this.slotOf(key);
    if (this.keys[slot] !== key) {
      if ((this.used + 1) * 2 > this.keys.length) {
        this.grow();
        slot = this.slotOf(key);
      }
      this.keys[slot] = key;
      this.used++;
    }
    if (this.stamps[slot] !== this.stamp) {
      this.stamps[slot] = this.stamp;
      this.changed.push(key);
    }
    if (word >= 0) this.link(slot, word);
    return (this.counts[slot] += d);
  }

  private link(slot: number, word: number): void {
    const head = this.heads[slot];
    if (head >= 0 && this.poolWord[head] === word) return;
    if (this.poolSize === this.poolWord.length) {
      const words = new Int32Array(this.poolSize * 2);
      const next = new Int32Array(this.poolSize * 2);
      words.set(this.poolWord);
      next.set(this.poolNext);
      this.poolWord = words;
      this.poolNext = next;
    }
    const e = this.poolSize++;
    this.poolWord[e] = word;
    this.poolNext[e] = head;
    this.heads[slot] = e;
  }

  /** The words that have held key since its list was last cleared (may repeat, may no longer hold it). */
  wordsOf(key: number): number[] {
    const slot = this.slotOf(key);
    const out: number[] = [];
    if (this.keys[slot] !== key) return out;
    for (let e = this.heads[slot]; e >= 0; e = this.poolNext[e]) out.push(this.poolWord[e]);
    return out;
  }

  /** Sets key's count to 0 and forgets its word list (after a merge replaced every occurrence). */
  clear(key: number): void {
    const slot = this.slotOf(key);
    if (this.keys[slot] !== key) return;
    this.counts[slot] = 0;
    this.heads[slot] = -1;
  }

  /** Starts a new set of changed keys. */
  startChanges(): void {
    this.stamp++;
    this.changed = [];
  }

  changedKeys(): readonly number[] {
    return this.changed;
  }

  *entries(): IterableIterator<[number, number]> {
    for (let i = 0; i < this.keys.length; i++)
      if (this.keys[i] !== -1 && this.counts[i] > 0) yield [this.keys[i], this.counts[i]];
  }

  private grow(): void {
    const { keys, counts, stamps, heads } = this;
    let live = 0;
    const keep = (i: number) =>
      keys[i] !== -1 && (counts[i] !== 0 || stamps[i] === this.stamp || heads[i] !== -1);
    for (let i = 0; i < keys.length; i++) if (keep(i)) live++;
    let size = keys.length;
    while (size < live * 4) size *= 2;
    this.keys = new Float64Array(size).fill(-1);
    this.counts = new Float64Array(size);
    this.stamps = new Int32Array(size);
    this.heads = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    this.used = 0;
    for (let i = 0; i < keys.length; i++) {
      if (!keep(i)) continue;
      const slot = this.slotOf(keys[i]);
      this.keys[slot] = keys[i];
      this.counts[slot] = counts[i];
      this.stamps[slot] = stamps[i];
      this.heads[slot] = heads[i];
      this.used++;
    }
  }
}
