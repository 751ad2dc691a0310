/**
 * Which problems are held out: a problem's key (the numbers, the word, the person, not the phrasing)
 * hashes to the held-out tenth or to train, whatever the seed, so no seed's held-out set shares a problem
 * with any seed's training set. Chat data (chatData.ts), preference pairs (rl/preferences.ts) and RL
 * tasks (rl/rlTasks.ts) split this way.
 *
 *   isHeldOut('47 + 38')   // false: a training problem
 */

/** FNV-1a of a key: 1 in 10 keys are held out. */
export function isHeldOut(key: string): boolean {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h % 10 === 0;
}
