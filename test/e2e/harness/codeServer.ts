/**
 * Starts code-server 4.100.3 (a real VS Code 1.100.3 with a Node extension host) on a free loopback
 * port, in its own user-data and extensions folders, optionally with a VSIX installed first.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync, rmSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(__dirname, '..', '..', '..');
export const CODE_SERVER = join(REPO, '.cache', 'code-server', 'node_modules', '.bin', 'code-server');
export const RESULTS = join(REPO, 'test-results');

export interface CodeServer {
  /** http://127.0.0.1:PORT */
  base: string;
  /** 127.0.0.1:PORT, for vscode-remote:// URIs */
  host: string;
  /** Folder with the server's log, user data and extensions. */
  dir: string;
  stop(): Promise<void>;
}

export interface CodeServerOptions {
  /** A VSIX to install before starting. */
  vsix?: string;
  /** Extra settings.json entries. */
  settings?: Record<string, unknown>;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
    srv.on('error', rej);
  });
}

export async function startCodeServer(opts: CodeServerOptions = {}): Promise<CodeServer> {
  if (!existsSync(CODE_SERVER))
    throw new Error(
      `code-server is not installed: run scripts/setup-code-server.sh (expected ${CODE_SERVER})`,
    );
  const dir = mkdtempSync(join(tmpdir(), 'llm-lens-cs-'));
  const userData = join(dir, 'user');
  const extensions = join(dir, 'extensions');
  mkdirSync(join(userData, 'User'), { recursive: true });
  mkdirSync(extensions, { recursive: true });
  writeFileSync(
    join(userData, 'User', 'settings.json'),
    JSON.stringify({
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'security.workspace.trust.enabled': false,
      'telemetry.telemetryLevel': 'off',
      'extensions.autoCheckUpdates': false,
      'extensions.autoUpdate': false,
      'update.mode': 'none',
      'chat.disableAIFeatures': true,
      'workbench.colorTheme': 'Default Dark Modern',
      ...opts.settings,
    }),
  );
  writeFileSync(join(dir, 'config.yaml'), 'auth: none\ncert: false\n');
  const common = ['--user-data-dir', userData, '--extensions-dir', extensions];
  if (opts.vsix) {
    const r = spawnSync(CODE_SERVER, [...common, '--install-extension', opts.vsix], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.status !== 0)
      throw new Error(`installing ${opts.vsix} into code-server failed:\n${r.stdout}\n${r.stderr}`);
  }
  const port = await freePort();
  const logFd = openSync(join(dir, 'code-server.log'), 'w');
  const child: ChildProcess = spawn(
    CODE_SERVER,
    [
      '--config',
      join(dir, 'config.yaml'),
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--auth',
      'none',
      ...common,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
    ],
    { stdio: ['ignore', logFd, logFd], detached: true },
  );
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`code-server exited with ${child.exitCode}; log: ${join(dir, 'code-server.log')}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline)
      throw new Error(
        `code-server did not answer on ${base} within 60 s; log: ${join(dir, 'code-server.log')}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    base,
    host: `127.0.0.1:${port}`,
    dir,
    stop: async () => {
      if (child.exitCode === null && child.pid) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          /* gone */
        }
        await new Promise<void>((r) => {
          const t = setTimeout(() => {
            try {
              process.kill(-child.pid!, 'SIGKILL');
            } catch {
              /* gone */
            }
            r();
          }, 5000);
          child.once('exit', () => {
            clearTimeout(t);
            r();
          });
        });
      }
      if (!process.env.LLM_LENS_KEEP_E2E) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh workspace folder with the given files (relative path → contents). */
export function makeWorkspace(files: Record<string, string>): string {
  const ws = mkdtempSync(join(tmpdir(), 'llm-lens-ws-'));
  for (const [rel, text] of Object.entries(files)) {
    const p = join(ws, rel);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, text);
  }
  return ws;
}
