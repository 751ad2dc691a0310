/**
 * The Groups view's arithmetic, without the DOM: an answer's advantage as a side and strength of a
 * diverging colour scale (green above the group's mean, red below, from the theme's chart colours in CSS),
 * whitespace made visible, and the words a screen reader says for an answer.
 *
 *   advantageScale([0.5, -0.25, 0])   // 0.5: the largest |advantage| shown fills the scale
 *   advantageShade(-0.25, 0.5)        // { sign: 'neg', strength: 0.5 }
 *   visiblePieces('a b\n')            // [{ text: 'a' }, { mark: '·', text: ' ' }, { text: 'b' }, { mark: '↵', text: '\n' }]
 */
import type { RlAnswer } from '../../src/protocol/training';

/** Below this an advantage counts as 0 (a group whose answers all got the same reward). */
const ZERO = 1e-9;

/** The largest |advantage| among `advantages` (0 when all are 0): the end of the colour scale. */
export function advantageScale(advantages: readonly number[]): number {
  let m = 0;
  for (const a of advantages) if (Number.isFinite(a)) m = Math.max(m, Math.abs(a));
  return m;
}

export interface Shade {
  /** pos: above the group's mean (made more likely); neg: below (made less likely); zero: no signal. */
  sign: 'pos' | 'neg' | 'zero';
  /** |advantage| ÷ scale, in [0, 1]. */
  strength: number;
}

/** Where `advantage` sits on a diverging scale that ends at ±`scale`. */
export function advantageShade(advantage: number, scale: number): Shade {
  if (!Number.isFinite(advantage) || Math.abs(advantage) < ZERO || !(scale > ZERO))
    return { sign: 'zero', strength: 0 };
  return { sign: advantage > 0 ? 'pos' : 'neg', strength: Math.min(1, Math.abs(advantage) / scale) };
}

/** An advantage as shown: signed, two decimals, a true minus sign ("+0.50", "−0.25", "0.00"). */
export function formatAdvantage(a: number): string {
  if (Math.abs(a) < 0.005) return '0.00';
  return `${a > 0 ? '+' : '−'}${Math.abs(a).toFixed(2)}`;
}

/** The visible stand-in of each whitespace character. */
const MARKS: Record<string, string | undefined> = { ' ': '·', '\t': '→', '\n': '↵', '\r': '␍' };

/** A token's text in pieces: runs of ordinary text, and each whitespace character with its mark. */
export function visiblePieces(s: string): { text: string; mark?: string }[] {
  const out: { text: string; mark?: string }[] = [];
  let run = '';
  for (const ch of s) {
    const mark = MARKS[ch];
    if (mark === undefined) {
      run += ch;
      continue;
    }
    if (run) out.push({ text: run });
    run = '';
    out.push({ text: ch, mark });
  }
  if (run) out.push({ text: run });
  return out;
}

/** What a screen reader says for answer `i` (0-based) of `count`: its scores, then its text. */
export function answerLabel(i: number, count: number, a: RlAnswer): string {
  const scores = [
    `reward ${a.reward.toFixed(2)}`,
    ...(a.trueReward !== undefined ? [`true checker ${a.trueReward.toFixed(2)}`] : []),
    `advantage ${formatAdvantage(a.advantage).replace('−', 'minus ')}`,
    ...(a.forced?.length ? [`${a.forced.length} tokens forced by a tool`] : []),
  ];
  return `Answer ${i + 1} of ${count}: ${scores.join(', ')}: ${a.tokens.join('') || '(empty)'}`;
}
