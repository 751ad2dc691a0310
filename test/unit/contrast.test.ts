/**
 * The WCAG contrast arithmetic of the theme e2e test (test/e2e/harness/contrast.ts) against published
 * values: WebAIM's contrast checker gives 21:1 for black on white, 4.54:1 for #767676 on white (the
 * lightest grey that passes AA) and 4.48:1 for #777777; WCAG's own luminance of sRGB mid grey #808080
 * is 0.2159. Compositing is checked by hand: 50% black over white is #808080 (0.5 per channel).
 *
 *   node --test out/test/unit/contrast.test.js
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backdrop, contrastRatio, luminance, over, parseColor, type Rgb } from '../e2e/harness/contrast';

const grey = (v: number): Rgb => [v / 255, v / 255, v / 255];
const near = (got: number, want: number, tol: number, what: string) =>
  assert.ok(Math.abs(got - want) <= tol, `${what}: ${got}, expected ${want}`);

test('contrast ratios match WebAIM for black, #767676 and #777777 on white', () => {
  near(contrastRatio(grey(0), grey(255)), 21, 1e-9, 'black on white');
  near(contrastRatio(grey(255), grey(0)), 21, 1e-9, 'order does not matter');
  near(contrastRatio(grey(0x76), grey(255)), 4.54, 0.005, '#767676 on white');
  near(contrastRatio(grey(0x77), grey(255)), 4.48, 0.005, '#777777 on white');
  near(luminance(grey(0x80)), 0.2159, 0.0001, 'luminance of #808080');
});

test('computed colours parse in the forms Chromium writes them', () => {
  assert.deepEqual(parseColor('rgb(255, 0, 51)'), [1, 0, 0.2, 1]);
  assert.deepEqual(parseColor('rgba(0, 0, 0, 0.25)'), [0, 0, 0, 0.25]);
  assert.deepEqual(parseColor('color(srgb 0.5 0.25 1 / 0.5)'), [0.5, 0.25, 1, 0.5]);
  assert.deepEqual(parseColor('transparent'), [0, 0, 0, 0]);
  assert.equal(parseColor('none'), undefined);
});

test('half-transparent black over white composites to mid grey; backdrops stack outermost first', () => {
  assert.deepEqual(over([0, 0, 0, 0.5], [1, 1, 1]), [0.5, 0.5, 0.5]);
  assert.deepEqual(over([0, 0, 0, 1], [1, 1, 1], 0.5), [0.5, 0.5, 0.5]);
  // innermost first: a 50% black tint on an opaque white card on a black page is grey, the page unseen
  assert.deepEqual(
    backdrop(['rgba(0, 0, 0, 0.5)', 'rgb(255, 255, 255)', 'rgba(0, 0, 0, 0)'], [0, 0, 0]),
    [0.5, 0.5, 0.5],
  );
  assert.deepEqual(backdrop(['rgba(0, 0, 0, 0)'], [0.2, 0.4, 0.6]), [0.2, 0.4, 0.6]);
});
