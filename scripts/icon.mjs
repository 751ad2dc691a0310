// Draws the Marketplace icon media/icon.png (128×128) from the activity-bar glyph media/lens.svg: the glyph's
// strokes in white on a rounded indigo square, rendered by Chromium (the one the e2e tests use).
//   node scripts/icon.mjs [--out media/icon.png]
import { readFileSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const argv = process.argv.slice(2);
const out = argv.includes('--out') ? argv[argv.indexOf('--out') + 1] : 'media/icon.png';
const SIZE = 128;

const glyph = readFileSync('media/lens.svg', 'utf8');
const inner = glyph.match(/<svg[^>]*>([\s\S]*)<\/svg>/)?.[1];
if (!inner) throw new Error('icon: media/lens.svg has no <svg> element to draw from');

// lens.svg is a 24×24 stroke glyph; scale it to fill about 70% of the square, centred.
const scale = 3.75;
const offset = (SIZE - 24 * scale) / 2;
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}" viewBox="0 0 ${SIZE} ${SIZE}">
  <defs><linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">
    <stop offset="0" stop-color="#3b3f9e"/><stop offset="1" stop-color="#1e2160"/>
  </linearGradient></defs>
  <rect x="0" y="0" width="${SIZE}" height="${SIZE}" rx="24" fill="url(#bg)"/>
  <g transform="translate(${offset} ${offset}) scale(${scale})" fill="none" stroke="#ffffff" stroke-width="1.8"
     stroke-linecap="round" stroke-linejoin="round" color="#ffffff">${inner}</g>
  <g transform="translate(${offset} ${offset}) scale(${scale})" fill="none" stroke="#ffc857" stroke-width="1.8"
     stroke-linecap="round" stroke-linejoin="round">${inner.match(/<path d="M6\.5[^>]*\/>/)?.[0] ?? ''}</g>
</svg>`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu'],
});
try {
  const page = await browser.newPage({ viewport: { width: SIZE, height: SIZE }, deviceScaleFactor: 1 });
  await page.setContent(`<html><body style="margin:0;background:transparent">${svg}</body></html>`);
  const png = await page.locator('svg').screenshot({ omitBackground: true });
  writeFileSync(out, png);
  console.log(`icon: ${out} (${png.length} bytes, ${SIZE}×${SIZE})`);
} finally {
  await browser.close();
}
