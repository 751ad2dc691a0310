/** The VSIX under test: the one `npm run package` built for this platform. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './codeServer';

export function installedVsix(): string {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  const file =
    process.env.LLM_LENS_VSIX ??
    join(REPO, 'dist-vsix', `${pkg.name}-${process.platform}-${process.arch}-${pkg.version}.vsix`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run package first`);
  return file;
}
