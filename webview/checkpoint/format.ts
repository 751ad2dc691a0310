/** Number formatting for the Checkpoint Inspector. */

export function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

/** Bytes in decimal units: 1.50 MB. */
export function fmtBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  const digits = 2 - Math.min(2, Math.floor(Math.log10(Math.max(v, 1)))); // 1.23, 12.3, 123
  return `${v.toFixed(digits)} ${units[i]}`;
}

/** 4 significant digits, exponent form for very small or large magnitudes; '—' for not finite. */
export function fmtNum(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e5 || a < 1e-3 ? x.toExponential(3) : Number(x.toPrecision(4)).toString();
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
