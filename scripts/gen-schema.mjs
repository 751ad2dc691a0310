// Writes media/llmlens.schema.json, the JSON schema of *.llmlens.json run files, from the option table
// (src/protocol/trainOptions.ts via runFileSchema in src/engine/train/runFile.ts). A unit test fails
// while the committed file differs from what this writes.
//   node scripts/gen-schema.mjs        (npm run gen:schema)
import * as esbuild from 'esbuild';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as prettier from 'prettier';

const OUT = 'media/llmlens.schema.json';
const dir = mkdtempSync(join(tmpdir(), 'llm-lens-schema-'));
try {
  const bundle = join(dir, 'runFile.cjs');
  await esbuild.build({
    entryPoints: ['src/engine/train/runFile.ts'],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: bundle,
    logLevel: 'warning',
  });
  const { runFileSchema } = createRequire(import.meta.url)(bundle);
  const options = { ...(await prettier.resolveConfig(OUT)), filepath: OUT };
  writeFileSync(OUT, await prettier.format(JSON.stringify(runFileSchema()), options));
  console.log(`wrote ${OUT}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
