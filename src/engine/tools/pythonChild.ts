/**
 * The python tool's sandbox process (dist/pythonChild.js): loads Pyodide once, then runs one program
 * per message from its parent (python.ts) and answers with what the program printed. The parent starts
 * it with Node's permission model and kills it at the time limit; see python.ts for the whole design.
 *
 *   node --experimental-permission --allow-fs-read=<pyodide dir> --allow-fs-read=<this file>
 *        --disallow-code-generation-from-strings dist/pythonChild.js <pyodide dir> <heap cap in bytes>
 *   parent → { type: 'run', id: 1, code: 'print(6*7)', maxOutputChars: 2000 }
 *   child  → { type: 'result', id: 1, ok: true, output: '42\n' }
 *
 * Before Pyodide loads: the network globals (fetch, WebSocket, …) are deleted, and WebAssembly
 * instantiation is wrapped so the wasm heap cannot grow past the cap (Python then raises MemoryError).
 * After: stdin/stdout/stderr are Pyodide handlers of this file (no host stream stays reachable from
 * Python), `process`, `require` and `Buffer` leave the global scope, and each run gets fresh globals
 * while the module table, builtins, sys streams, cwd and the in-memory /tmp and home are reset after it.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { constants as fsConstants } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { join } from 'node:path';

/** Messages between python.ts and this process. */
export type ChildRequest = { type: 'run'; id: number; code: string; maxOutputChars: number };
export type ChildReply =
  | { type: 'ready'; loadMs: number }
  | { type: 'result'; id: number; ok: boolean; output: string; truncated: number }
  | { type: 'fatal'; message: string };

/** Python run once at start: defines `_run(code)` → (ok, error) and the reset between runs. */
const DRIVER = String.raw`
import sys, os, builtins, shutil, traceback
from pyodide.code import eval_code

_HOME = os.getcwd()
_MODULES = set(sys.modules)
_BUILTINS = dict(builtins.__dict__)
_SYS = {k: getattr(sys, k) for k in ('stdin', 'stdout', 'stderr', 'argv', 'displayhook', 'excepthook')}
_PATH = list(sys.path)
_LIMIT = sys.getrecursionlimit()

def _line(e):
    if isinstance(e, SyntaxError):
        return e.lineno
    line = None
    for frame, lineno in traceback.walk_tb(e.__traceback__):
        if frame.f_code.co_filename == '<exec>':
            line = lineno
    return line

def _reset():
    import asyncio
    for task in asyncio.all_tasks(asyncio.get_event_loop()):
        task.cancel()
    for name in list(sys.modules):
        if name not in _MODULES:
            del sys.modules[name]
    builtins.__dict__.clear()
    builtins.__dict__.update(_BUILTINS)
    for k, v in _SYS.items():
        setattr(sys, k, v)
    sys.path[:] = _PATH
    sys.setrecursionlimit(_LIMIT)
    os.chdir(_HOME)
    for d in ('/tmp', _HOME):
        for name in os.listdir(d):
            p = os.path.join(d, name)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)

def _run(code):
    scope = {'__name__': '__main__', '__builtins__': builtins}
    try:
        value = eval_code(code, scope, filename='<exec>')
        if value is not None:
            print(repr(value))
        return (True, '')
    except SystemExit as e:
        if e.code is None or e.code == 0:
            return (True, '')
        return (False, f'SystemExit: {e.code}')
    except BaseException as e:
        text = traceback.format_exception_only(type(e), e)[-1].strip()
        if isinstance(e, MemoryError):
            text = f'MemoryError: the program needed more than the {_CAP_MB} MB memory limit'
        line = _line(e)
        return (False, text if line is None else f'{text} (line {line})')
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        _reset()
`;

/** Network-capable globals removed before Pyodide loads (it must fall back to nothing). */
const NETWORK_GLOBALS = ['fetch', 'WebSocket', 'XMLHttpRequest', 'EventSource', 'Request', 'Response'];

/**
 * Makes every socket refuse to connect, listen or resolve a name. Node 20's permission model does not
 * cover the network, and Pyodide has a way to give Python real sockets (useNodeSockFS, which imports
 * node:net); TLS, HTTP and fetch all end in net.Socket's connect, so this closes them too.
 */
function denyNetwork(): void {
  const deny = (what: string) =>
    function denied(): never {
      throw new Error(`${what} is not allowed in the Python sandbox`);
    };
  const seal = (o: object, key: string, what: string) =>
    Object.defineProperty(o, key, { value: deny(what), writable: false, configurable: false });
  seal(net.Socket.prototype, 'connect', 'connecting a socket');
  seal(net.Server.prototype, 'listen', 'listening on a socket');
  for (const k of ['bind', 'connect', 'send']) seal(dgram.Socket.prototype, k, 'a UDP socket');
  for (const o of [dns, dns.promises, dns.Resolver.prototype, dns.promises.Resolver.prototype]) {
    for (const k of Object.keys(o)) {
      if (typeof (o as Record<string, unknown>)[k] === 'function' && /^(lookup|resolve|reverse)/.test(k)) {
        seal(o, k, 'resolving a host name');
      }
    }
  }
  syncBuiltinESMExports();
}

/** Makes every WebAssembly instance whose imports grow an Emscripten heap stop growing at `cap` bytes. */
function capWasmHeap(cap: number): void {
  type Imports = Record<string, Record<string, unknown>>;
  type Instantiate = (src: unknown, imports?: Imports) => Promise<unknown>;
  const wasm = (globalThis as unknown as { WebAssembly: { instantiate: Instantiate } }).WebAssembly;
  const instantiate = wasm.instantiate.bind(wasm);
  wasm.instantiate = (src, imports) => {
    const env = imports?.env;
    if (!env || !('emscripten_resize_heap' in env)) return instantiate(src, imports);
    const limitedEnv = new Proxy(env, {
      get(target, key) {
        const resize = target.emscripten_resize_heap as (n: number) => number;
        if (key === 'emscripten_resize_heap') return (n: number) => (n >>> 0 > cap ? 0 : resize(n));
        if (key === 'emscripten_get_heap_max') return () => cap;
        return target[key as string];
      },
    });
    return instantiate(src, { ...imports, env: limitedEnv });
  };
}

/** Collects what the program writes to stdout and stderr, in order, up to `max` characters. */
class Output {
  private text = '';
  private dropped = 0;
  private readonly decoder = new TextDecoder('utf-8');
  constructor(private readonly max: number) {}
  write(bytes: Uint8Array): number {
    const s = this.decoder.decode(bytes, { stream: true });
    const room = this.max - this.text.length;
    if (s.length <= room) this.text += s;
    else {
      this.text += s.slice(0, Math.max(0, room));
      this.dropped += s.length - Math.max(0, room);
    }
    return bytes.length;
  }
  finish(): { output: string; truncated: number } {
    this.write(new Uint8Array(0));
    return { output: this.text + this.decoder.decode(), truncated: this.dropped };
  }
}

interface PyodideLike {
  runPython(code: string, o?: { globals?: unknown }): unknown;
  setStdout(o: { write: (b: Uint8Array) => number; isatty?: boolean }): void;
  setStderr(o: { write: (b: Uint8Array) => number; isatty?: boolean }): void;
  setStdin(o: { error: boolean }): void;
  globals: { get(name: string): unknown };
  toPy(o: unknown): { destroy(): void };
}

async function main(): Promise<void> {
  const proc = process;
  const send = (m: ChildReply) => proc.send?.(m);
  const [pyodideDir, capArg] = proc.argv.slice(2);
  const permission = (proc as { permission?: { has(scope: string, ref?: string): boolean } }).permission;
  if (!permission || permission.has('fs.write') || permission.has('child') || permission.has('worker')) {
    send({
      type: 'fatal',
      message: "Node's permission model is not on (start it with --experimental-permission)",
    });
    proc.exit(3);
  }
  capWasmHeap(Number(capArg));
  denyNetwork();
  for (const name of NETWORK_GLOBALS) delete (globalThis as Record<string, unknown>)[name];
  // Emscripten's NODEFS reads its O_* flags through process.binding, which the permission model refuses.
  const withBinding = proc as unknown as { binding: (name: string) => unknown };
  const binding = withBinding.binding.bind(proc);
  withBinding.binding = (name) => (name === 'constants' ? { fs: fsConstants } : binding(name));

  const t0 = performance.now();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { loadPyodide } = require(join(pyodideDir, 'pyodide.js')) as {
    loadPyodide(o: object): Promise<PyodideLike>;
  };
  const py = await loadPyodide({
    indexURL: pyodideDir + '/',
    packageBaseUrl: pyodideDir + '/',
    jsglobals: {},
    env: { HOME: '/home/pyodide' },
    stdout: () => undefined,
    stderr: () => undefined,
  });
  let out = new Output(0);
  py.setStdout({ write: (b) => out.write(b), isatty: false });
  py.setStderr({ write: (b) => out.write(b), isatty: false });
  py.setStdin({ error: true });
  py.runPython(`_CAP_MB = ${Math.round(Number(capArg) / 2 ** 20)}\n${DRIVER}`);
  const api = py as unknown as Record<string, unknown>;
  for (const o of [api, api._api as Record<string, unknown>]) {
    for (const k of ['useNodeSockFS', 'initializeNodeSockFS']) {
      if (o && k in o)
        Object.defineProperty(o, k, { value: undefined, writable: false, configurable: false });
    }
  }
  const run = py.globals.get('_run') as (code: string) => { toJs(): [boolean, string]; destroy(): void };
  for (const name of ['process', 'require', 'Buffer', 'module', 'exports']) {
    delete (globalThis as Record<string, unknown>)[name];
  }

  proc.on('message', (m: ChildRequest) => {
    if (m.type !== 'run') return;
    out = new Output(m.maxOutputChars);
    const r = run(m.code);
    const [ok, error] = r.toJs();
    r.destroy();
    const { output, truncated } = out.finish();
    send({ type: 'result', id: m.id, ok, output: ok ? output : error, truncated: ok ? truncated : 0 });
  });
  send({ type: 'ready', loadMs: performance.now() - t0 });
}

main().catch((e: unknown) => {
  process.send?.({ type: 'fatal', message: e instanceof Error ? e.message : String(e) } as ChildReply);
  process.exit(2);
});
