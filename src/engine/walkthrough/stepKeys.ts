/**
 * The walkthrough's context keys, and which step of package.json's walkthrough each key completes (its
 * `onContext:` completion event). The host sets a key where the real effect happens
 * (src/host/walkthrough/progress.ts says where); no step completes on a command alone, since a command's
 * event fires even when its quick pick or dialog is cancelled.
 *
 *   STEP_KEYS.sampling                     // 'sampled'
 *   WALKTHROUGH_KEYS[STEP_KEYS.sampling]   // 'llmLens.walkthrough.sampled'
 */

export const WALKTHROUGH_KEYS = {
  sampleWorkspace: 'llmLens.walkthrough.sampleWorkspace',
  trained: 'llmLens.walkthrough.trained',
  fineTuned: 'llmLens.walkthrough.fineTuned',
  rlStepped: 'llmLens.walkthrough.rlStepped',
  tokenized: 'llmLens.walkthrough.tokenized',
  sampled: 'llmLens.walkthrough.sampled',
  inspected: 'llmLens.walkthrough.inspected',
  labOpened: 'llmLens.walkthrough.labOpened',
  probed: 'llmLens.walkthrough.probed',
  exported: 'llmLens.walkthrough.exported',
} as const;

export type WalkthroughKey = keyof typeof WALKTHROUGH_KEYS;

/** Each walkthrough step (its id in package.json) and the key that completes it, in the steps' order. */
export const STEP_KEYS: Record<string, WalkthroughKey> = {
  sampleWorkspace: 'sampleWorkspace',
  tokens: 'tokenized',
  pretrain: 'trained',
  sampling: 'sampled',
  checkpoints: 'inspected',
  lab: 'labOpened',
  chat: 'fineTuned',
  tools: 'probed',
  rl: 'rlStepped',
  elsewhere: 'exported',
};

/** Completion events a step may have besides its key: adding a run folder is itself the real thing. */
export const OTHER_COMPLETION_EVENTS: Record<string, string[]> = {
  elsewhere: ['onSettingChanged:llmLens.runFolders'],
};
