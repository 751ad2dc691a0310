/**
 * A small seeded random generator whose whole state is one uint32, so a run can save it with its
 * checkpoint and resume the exact same batch sequence (mulberry32).
 *
 *   const rng = new Rng(1337);
 *   rng.randint(100);     // 0 ≤ k < 100
 *   const s = rng.state;  // save …
 *   new Rng(0, s);        // … and continue from here later
 *   const normal = gaussian(1337); normal();  // N(0, 1): weight initialisation (model/gpt.ts, model/llama.ts)
 */
export class Rng {
  private a: number;

  constructor(seed: number, state?: number) {
    this.a = (state ?? seed) >>> 0;
  }

  get state(): number {
    return this.a;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n), n ≤ 2^53. */
  randint(n: number): number {
    if (!(n >= 1) || !Number.isSafeInteger(n))
      throw new Error(`randint needs a positive integer bound, got ${n}`);
    if (n <= 4294967296) return Math.floor(this.next() * n);
    return Math.floor((this.next() * 4294967296 + this.next() * 4294967296 * 4294967296) % n);
  }
}

/** Uniform samples in (0, 1), never 0 (Box–Muller takes the log): mulberry32 shifted by half a step. */
export function uniform(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.next() + 0.5 / 4294967296;
}

/** Standard normal samples (Box–Muller). */
export function gaussian(seed: number): () => number {
  const u = uniform(seed);
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}
