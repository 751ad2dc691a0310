/**
 * RL on rollouts with tool calls: the tokens a tool forced into an answer (its output, between
 * <|output_start|> and <|output_end|>, sample/generateBatch.ts's `forced`) were not chosen by the policy,
 * so they carry no loss and no advantage. `answerMask` is an answer's own mask (1 sampled, 0 forced);
 * `maskForced` applies it to the rows of rlLoop.ts's rolloutRows, whose mask is 1 on every answer token.
 *
 *   const groups: BatchAnswer[][] = [];
 *   for (const p of prompts) groups.push(await generateBatch(kv, p.ids, G, o, { force }));
 *   const rows = rolloutRows(prompts, groups.map((g) => g.map((a) => a.ids)), T);
 *   maskForced(rows.mask, prompts, groups, T);   // 0 where the target is a tool's output token
 *   answerMask({ ids: [5, 9, 4, 8], forced: [1, 2] })   // Float32Array [1, 0, 0, 1]
 */

/** An answer's tokens and which of them a tool forced (indices into ids). */
export interface ForcedAnswer {
  ids: readonly number[];
  forced: readonly number[];
}

/** 1 for each token the policy sampled, 0 for each token a tool forced. */
export function answerMask(a: ForcedAnswer): Float32Array {
  const mask = new Float32Array(a.ids.length).fill(1);
  for (const i of a.forced) {
    if (!(Number.isInteger(i) && i >= 0 && i < a.ids.length))
      throw new Error(`answerMask: forced index ${i} is outside the answer's ${a.ids.length} tokens`);
    mask[i] = 0;
  }
  return mask;
}

/**
 * Zeroes, in place, the entries of a rolloutRows mask (B, T) whose target is a forced token: row b holds
 * prompt + answer shifted by one, so answer token k of prompt p is the target at t = len(p) − 1 + k.
 * answers[k] are the G answers of prompts[k], in the order rolloutRows took them.
 */
export function maskForced(
  mask: Float32Array,
  prompts: readonly { ids: readonly number[] }[],
  answers: readonly (readonly ForcedAnswer[])[],
  T: number,
): Float32Array {
  const B = answers.reduce((s, g) => s + g.length, 0);
  if (mask.length !== B * T)
    throw new Error(`maskForced: the mask has ${mask.length} values, expected ${B} answers × ${T}`);
  let b = 0;
  for (const [k, group] of answers.entries())
    for (const a of group) {
      const start = prompts[k].ids.length - 1;
      const own = answerMask(a);
      for (let j = 0; j < own.length && start + j < T; j++) mask[b * T + start + j] *= own[j];
      b++;
    }
  return mask;
}
