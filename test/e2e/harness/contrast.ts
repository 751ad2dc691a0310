/**
 * WCAG 2 contrast of what a webview shows, from the colours the browser computed: a CSS colour parsed
 * (rgb(), rgba(), color(srgb …)), laid over what is behind it (alpha compositing down the ancestors'
 * backgrounds), and the contrast ratio of two colours (1 to 21).
 *
 *   const fg = over(parseColor('rgba(0, 0, 0, 0.5)'), [1, 1, 1]); // mid grey on white
 *   contrastRatio(fg, [1, 1, 1]);                                    // 3.95
 */

/** Red, green, blue in 0..1 and alpha. */
export type Rgba = [number, number, number, number];
export type Rgb = [number, number, number];

/** A colour as getComputedStyle writes it; undefined for anything else (none, transparent keywords aside). */
export function parseColor(css: string): Rgba | undefined {
  const s = css.trim();
  if (s === 'transparent') return [0, 0, 0, 0];
  const rgb = s.match(/^rgba?\(([^)]*)\)$/);
  if (rgb) {
    const n = rgb[1]
      .split(/[\s,/]+/)
      .filter(Boolean)
      .map(Number);
    return [n[0] / 255, n[1] / 255, n[2] / 255, n[3] ?? 1];
  }
  const srgb = s.match(/^color\(srgb\s+([^)]*)\)$/);
  if (srgb) {
    const n = srgb[1]
      .split(/[\s/]+/)
      .filter(Boolean)
      .map(Number);
    return [n[0], n[1], n[2], n[3] ?? 1];
  }
  return undefined;
}

/** `top` (with its alpha times `opacity`) painted over the opaque `bottom`. */
export function over(top: Rgba, bottom: Rgb, opacity = 1): Rgb {
  const a = top[3] * opacity;
  return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)) as Rgb;
}

/**
 * The opaque colour behind an element: its own and its ancestors' backgrounds (innermost first), composited
 * from the outermost opaque one inwards; `base` under them all (the page's own background).
 */
export function backdrop(backgrounds: string[], base: Rgb): Rgb {
  let c = base;
  for (const css of [...backgrounds].reverse()) {
    const p = parseColor(css);
    if (p) c = over(p, c);
  }
  return c;
}

/** WCAG 2 relative luminance of an sRGB colour. */
export function luminance([r, g, b]: Rgb): number {
  const lin = (v: number) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** WCAG 2 contrast ratio, (L1 + 0.05) / (L2 + 0.05) with L1 the lighter. */
export function contrastRatio(a: Rgb, b: Rgb): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** #rrggbb, for messages. */
export function hex(c: Rgb): string {
  return `#${c
    .map((v) =>
      Math.round(v * 255)
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}
