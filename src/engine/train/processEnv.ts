/**
 * The environment of a process that trains. A training step allocates and frees the same large
 * blocks every step. With glibc's defaults they are mmap'd and unmapped, or trimmed back to the
 * kernel, each time, so every step faulted in 80–120 MB afresh: 21,000–30,000 minor page faults and
 * 60–180 ms of system time per step of the nanoGPT shakespeare_char model (1.8 s). With mmap off for
 * malloc (glibc.malloc.mmap_max=0, any block size, glibc 2.26 and later) and no trimming, freed blocks
 * stay in the heap for the next step: under 250 faults per step. The tunables are read by glibc when a
 * process starts, so they go into the environment of the process that will train (the run manager's
 * fork of the CLI, the benchmarks); other C libraries ignore the variable.
 */

/** glibc malloc tunables for a training process: nothing large is returned to the kernel between steps. */
export const TRAINING_MALLOC_TUNABLES = ['glibc.malloc.mmap_max=0', 'glibc.malloc.trim_threshold=4294967295'];

/** `env` with the training tunables added to GLIBC_TUNABLES; tunables the caller already set win. */
export function trainingProcessEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const own = (env.GLIBC_TUNABLES ?? '').split(':').filter(Boolean);
  const names = new Set(own.map((t) => t.split('=')[0]));
  const merged = [...own, ...TRAINING_MALLOC_TUNABLES.filter((t) => !names.has(t.split('=')[0]))];
  return { ...env, GLIBC_TUNABLES: merged.join(':') };
}
