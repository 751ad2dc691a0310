/**
 * Attention on <canvas>: small thumbnails for the layer × head grid, one large query × key map with
 * token labels and a hover readout. Pixels are written into one ImageData and scaled by drawImage,
 * so 1,024 × 1,024 weights draw in a few tens of milliseconds.
 *
 *   drawThumb(canvas, thumbs, offset, size);
 *   const ms = drawAttention(canvas, weights, n, labels);
 */

/**
 * A weight on a log scale: 1e-4 → 0, 1 → 1 (0 stays 0). Over a long text attention spreads to ~1/n per
 * key, which a linear scale would draw black.
 *
 *   weightScale(0.01)   // 0.5
 */
export function weightScale(w: number): number {
  return w > 0 ? Math.min(1, Math.max(0, (Math.log10(w) + 4) / 4)) : 0;
}

/** Colour ramp for t in [0, 1] (dark → purple → orange → yellow). */
export function ramp(t0: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, t0));
  const stops: [number, number, number][] = [
    [13, 8, 35],
    [120, 28, 109],
    [237, 105, 37],
    [252, 255, 164],
  ];
  const x = t * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i];
  const b = stops[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/** An (rows × cols) canvas of weights at 1 pixel each, from `data` starting at `offset`. */
function pixels(data: Float32Array, offset: number, rows: number, cols: number): HTMLCanvasElement {
  const img = new ImageData(cols, rows);
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) lut.set(ramp(i / 255), i * 3);
  for (let i = 0; i < rows * cols; i++) {
    const k = Math.round(weightScale(data[offset + i]) * 255) * 3;
    const p = i * 4;
    img.data[p] = lut[k];
    img.data[p + 1] = lut[k + 1];
    img.data[p + 2] = lut[k + 2];
    img.data[p + 3] = 255;
  }
  const c = document.createElement('canvas');
  c.width = cols;
  c.height = rows;
  c.getContext('2d')!.putImageData(img, 0, 0);
  return c;
}

/** One head's thumbnail (size × size) scaled to the canvas's CSS size. */
export function drawThumb(
  canvas: HTMLCanvasElement,
  data: Float32Array,
  offset: number,
  size: number,
  px = 64,
): void {
  canvas.width = px;
  canvas.height = px;
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(pixels(data, offset, size, size), 0, 0, px, px);
}

export interface AttentionLayout {
  /** Left and top margins for labels, and the cell size, in canvas pixels. */
  margin: number;
  cell: number;
  n: number;
}

/** Draws the n × n map (rows: queries, columns: keys) with labels when cells are big enough; returns the layout and the time taken. */
export function drawAttention(
  canvas: HTMLCanvasElement,
  weights: Float32Array,
  n: number,
  labels: string[],
  maxPx = 720,
): { layout: AttentionLayout; ms: number } {
  const t0 = performance.now();
  const cell = Math.max(maxPx / n, 0.25);
  const margin = cell >= 7 ? 64 : 0;
  const side = Math.ceil(n * cell);
  canvas.width = side + margin;
  canvas.height = side + margin;
  const ctx = canvas.getContext('2d')!;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(pixels(weights, 0, n, n), margin, margin, side, side);
  if (margin) {
    ctx.fillStyle = getComputedStyle(document.body).getPropertyValue('--vscode-foreground').trim() || '#ccc';
    ctx.font = `${Math.min(12, Math.floor(cell))}px monospace`;
    ctx.textBaseline = 'middle';
    for (let i = 0; i < n; i++) {
      const label = visible(labels[i]).slice(0, 8);
      ctx.textAlign = 'right';
      ctx.fillText(label, margin - 4, margin + (i + 0.5) * cell);
      ctx.save();
      ctx.translate(margin + (i + 0.5) * cell, margin - 4);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = 'left';
      ctx.fillText(label, 0, 0);
      ctx.restore();
    }
  }
  return { layout: { margin, cell, n }, ms: performance.now() - t0 };
}

/** The (query, key) cell under a mouse position in CSS pixels, or undefined outside the map. */
export function cellAt(
  canvas: HTMLCanvasElement,
  layout: AttentionLayout,
  clientX: number,
  clientY: number,
): { q: number; k: number } | undefined {
  const rect = canvas.getBoundingClientRect();
  const sx = canvas.width / rect.width;
  const x = (clientX - rect.left) * sx - layout.margin;
  const y = (clientY - rect.top) * sx - layout.margin;
  const k = Math.floor(x / layout.cell);
  const q = Math.floor(y / layout.cell);
  return q >= 0 && k >= 0 && q < layout.n && k < layout.n ? { q, k } : undefined;
}

/** Whitespace made visible for labels: space ·, newline ↵, tab →. */
export function visible(s: string): string {
  return s.replace(/ /g, '·').replace(/\n/g, '↵').replace(/\t/g, '→').replace(/\r/g, '␍') || '∅';
}
