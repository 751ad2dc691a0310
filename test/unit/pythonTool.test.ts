/**
 * The python tool against known answers (Python semantics worked out by hand: sum(range(10)) is 45,
 * "strawberry" has 3 r's) and against a sandbox it must not leave: each escape route (host files, js,
 * pyodide_js, processes, sockets, HTTP, packages from the network) is tried and must fail, with a real
 * TCP server on the host counting any connection that gets through. Needs dist/pythonChild.js
 * (node scripts/build.mjs).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { createPythonTool } from '../../src/engine/tools/python';

const python = createPythonTool({ maxOutputChars: 2000, memoryMb: 256 });
const run = (code: string, timeoutMs = 10_000) => python.run(code, { timeoutMs });

/** A host TCP server that answers like an HTTP server and counts every connection it gets. */
let connections = 0;
let port = 0;
const server = net.createServer((s) => {
  connections++;
  s.on('error', () => undefined);
  s.end('HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nescape');
});

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});
after(async () => {
  await python.dispose();
  server.close();
});

test('runs Python and gives back what it printed, then a final value as the REPL shows it', async () => {
  const t0 = performance.now();
  const loadMs = await python.warmUp();
  console.log(`cold start: ${(performance.now() - t0).toFixed(0)} ms (Pyodide load ${loadMs.toFixed(0)} ms)`);
  const first = await run('print(sum(range(10)))');
  assert.deepEqual([first.ok, first.output], [true, '45\n']);
  const warm = await run('"strawberry".count("r")');
  console.log(`warm call: ${warm.ms.toFixed(1)} ms`);
  assert.deepEqual([warm.ok, warm.output], [true, '3\n']);
  assert.ok(warm.ms < 1000, `a warm call took ${warm.ms} ms`);
  assert.equal((await run("'ubiquitous'[::3]")).output, "'uqts'\n");
  assert.equal((await run('print(1)\n2 + 3')).output, '1\n5\n');
  assert.equal((await run('x = 2 + 3')).output, '');
  assert.equal((await run('None')).output, '');
  assert.equal(
    (await run('import sys\nprint("a")\nprint("b", file=sys.stderr)\nprint("c")')).output,
    'a\nb\nc\n',
  );
  assert.equal((await run('print("ünïcode ✓")')).output, 'ünïcode ✓\n');
  assert.equal((await run('import sys\nsys.exit(0)')).ok, true);
});

test('an exception or a syntax error is one error line with its line number', async () => {
  assert.deepEqual(await fields(run('x = 1\n1 / 0')), [
    false,
    'Error: ZeroDivisionError: division by zero (line 2)',
  ]);
  const syntax = await run('print(1\nprint(2)');
  assert.equal(syntax.ok, false);
  assert.match(syntax.output, /^Error: SyntaxError: .* \(line 1\)$/);
  assert.deepEqual(await fields(run('undefined_name')), [
    false,
    "Error: NameError: name 'undefined_name' is not defined (line 1)",
  ]);
  assert.deepEqual(await fields(run('import sys\nsys.exit(3)')), [false, 'Error: SystemExit: 3']);
});

test('output past the maximum is cut with a note of how much', async () => {
  const r = await run('print("a" * 5000)');
  assert.equal(r.ok, true);
  assert.equal(r.output, 'a'.repeat(2000) + '\n… (3001 more characters cut)');
});

test('nothing a call defines reaches the next call', async () => {
  const r1 = await run(
    [
      'x = 41',
      'import builtins, sys, os, json',
      'builtins.leaked = 1',
      'sys.path.append("/nowhere")',
      'sys.modules["fake"] = json',
      'open("/tmp/note.txt", "w").write("hi")',
      'os.mkdir("made")',
      'os.chdir("/tmp")',
      'def f(): return 1',
    ].join('\n'),
  );
  assert.equal(r1.ok, true, r1.output);
  const r2 = await run(
    [
      'import builtins, sys, os',
      "print('x' in globals(), 'f' in globals(), hasattr(builtins, 'leaked'), '/nowhere' in sys.path)",
      "print('fake' in sys.modules, os.path.exists('/tmp/note.txt'), os.path.exists('made'), os.getcwd())",
    ].join('\n'),
  );
  assert.equal(r2.output, 'False False False False\nFalse False False /home/pyodide\n');
  // A task left on the event loop would run between calls, outside any time limit.
  const spin = await run(
    'import asyncio\nasync def spin():\n    while True: pass\nasyncio.ensure_future(spin())\nNone',
  );
  assert.equal(spin.ok, true, spin.output);
  assert.equal((await run('print("free")', 3000)).output, 'free\n');
});

test('an infinite loop is stopped at the time limit and the next call works', async () => {
  await run('y = 1');
  const r = await run('while True: pass', 1000);
  assert.deepEqual([r.ok, r.output], [false, 'Error: the program ran longer than 1 s and was stopped']);
  assert.ok(r.ms >= 1000 && r.ms < 3000, `stopped after ${r.ms} ms`);
  const next = await run('print(6 * 7)\nprint("y" in globals())', 30_000);
  assert.deepEqual([next.ok, next.output], [true, '42\nFalse\n']);
});

test('a program that needs more memory than the limit gets MemoryError, and the host survives', async () => {
  const before = process.memoryUsage().rss;
  const bomb = await run('blocks = []\nwhile True:\n    blocks.append(bytearray(10**7))', 30_000);
  assert.deepEqual(await fields(Promise.resolve(bomb)), [
    false,
    'Error: MemoryError: the program needed more than the 256 MB memory limit (line 3)',
  ]);
  assert.equal((await run('len(bytearray(150 * 10**6))')).output, '150000000\n');
  assert.match((await run('bytearray(300 * 10**6)')).output, /^Error: MemoryError: /);
  const huge = await run('x = [0] * 10**9', 30_000);
  assert.match(huge.output, /^Error: MemoryError: /);
  assert.ok(process.memoryUsage().rss - before < 100e6, 'the host process grew');
  assert.equal((await run('print(len(bytearray(10**7)))')).output, '10000000\n');
});

test('host files cannot be read or written', async () => {
  const repoFile = path.resolve('package.json');
  assert.ok(fs.existsSync(repoFile));
  const outside = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-py-'));
  assert.equal((await run('print("sandbox up")')).output, 'sandbox up\n');
  for (const code of [
    `print(open('/etc/passwd').read())`,
    `print(open(${JSON.stringify(repoFile)}).read())`,
    `import os\nprint(os.listdir(${JSON.stringify(path.dirname(repoFile))}))`,
    `import pyodide_js\npyodide_js.mountNodeFS('/mnt', '/etc')\nprint(open('/mnt/passwd').read())`,
    `import pyodide_js\npyodide_js.mountNodeFS('/mnt', ${JSON.stringify(path.dirname(repoFile))})\nprint(open('/mnt/package.json').read())`,
    `import pyodide_js\npyodide_js.mountNodeFS('/mnt', ${JSON.stringify(outside)})\nopen('/mnt/w.txt', 'w').write('x')`,
  ]) {
    const r = await run(code);
    assert.equal(r.ok, false, `${code}\n→ ${r.output}`);
    assert.doesNotMatch(r.output, /root:|"name": "llm-lens"|"devDependencies"/);
  }
  assert.deepEqual(fs.readdirSync(outside), []);
});

test('neither js nor pyodide_js leads to Node', async () => {
  const cases: [string, RegExp][] = [
    ['import js\njs.process', /^Error: AttributeError: process/],
    ['import js\njs.require', /^Error: AttributeError: require/],
    ['import js\njs.globalThis', /^Error: AttributeError: globalThis/],
    ['import js\njs.fetch', /^Error: AttributeError: fetch/],
    ['import pyodide_js\npyodide_js.runPython.constructor("return process")()', /EvalError: Code generation/],
    ['import js\njs.constructor.constructor("return globalThis")()', /EvalError: Code generation/],
    ['import pyodide_js\npyodide_js._module.process', /^Error: AttributeError: process/],
    ['import pyodide_js\npyodide_js._module.require', /^Error: AttributeError: require/],
    ['import pyodide_js\npyodide_js._api.process', /^Error: AttributeError: process/],
  ];
  for (const [code, expected] of cases) {
    const r = await run(code);
    assert.match(r.output, expected, code);
  }
  // A walk over what pyodide_js reaches, looking for Node's powers by the names they carry.
  const walk = await run(
    [
      'import pyodide_js',
      'from pyodide.ffi import JsProxy',
      'seen, queue, found = set(), [(pyodide_js, "pyodide_js", 0)], []',
      'POWERS = ("readFileSync", "spawn", "execSync", "createConnection", "binding", "mainModule", "hrtime", "execPath")',
      'while queue:',
      '    obj, where, depth = queue.pop()',
      '    if obj.js_id in seen or depth > 3: continue',
      '    seen.add(obj.js_id)',
      '    try: keys = dir(obj)',
      '    except Exception: continue',
      '    for k in keys:',
      '        if k.startswith("__"): continue',
      '        if k in POWERS: found.append(where + "." + k)',
      '        try: v = getattr(obj, k)',
      '        except Exception: continue',
      '        if not isinstance(v, JsProxy) or v.typeof not in ("object", "function"): continue',
      '        if hasattr(v, "byteLength") or hasattr(v, "BYTES_PER_ELEMENT"): continue',
      '        queue.append((v, where + "." + k, depth + 1))',
      'print(len(seen) > 1000, found)',
    ].join('\n'),
    60_000,
  );
  assert.equal(walk.output, 'True []\n');
});

test('no processes, no sockets, no HTTP, no packages from the network', async () => {
  fs.rmSync('/tmp/llm-lens-pwned', { force: true });
  const cases: [string, RegExp][] = [
    ['import subprocess\nsubprocess.run(["ls"])', /^Error: OSError: .*does not support processes/],
    ['import os\nos.fork()', /^Error: OSError: /],
    ['import os\nos.system("touch /tmp/llm-lens-pwned")', /^Error: /],
    [`import socket\nsocket.create_connection(("127.0.0.1", ${port}), timeout=1)`, /^Error: OSError: /],
    [
      `import urllib.request\nurllib.request.urlopen("http://127.0.0.1:${port}/").read()`,
      /^Error: urllib.error.URLError/,
    ],
    [`from pyodide.http import open_url\nopen_url("http://127.0.0.1:${port}/").read()`, /^Error: /],
    ['import micropip', /^Error: ModuleNotFoundError: No module named 'micropip'/],
    ['import numpy', /^Error: ModuleNotFoundError: No module named 'numpy'/],
  ];
  for (const [code, expected] of cases) {
    const r = await run(code);
    assert.match(r.output, expected, code);
  }
  // Work that can only finish after the call returns: started in one call, looked at in the next.
  for (const start of [
    `import asyncio\nfrom pyodide.http import pyfetch\nasyncio.ensure_future(pyfetch("http://127.0.0.1:${port}/"))`,
    `import pyodide_js\npyodide_js.loadPackage("http://127.0.0.1:${port}/x-1.0-py3-none-any.whl")`,
    'import pyodide_js\npyodide_js.loadPackage("micropip")',
    'import pyodide_js\npyodide_js.useNodeSockFS()',
    'import pyodide_js\npyodide_js._api.initializeNodeSockFS()',
  ]) {
    await run(start);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const sock = await run(
      `import socket\ns = socket.socket()\ns.settimeout(1)\ns.connect(("127.0.0.1", ${port}))\nprint(s.recv(100))`,
    );
    assert.match(sock.output, /^Error: /, `after ${start}`);
    assert.match((await run('import micropip')).output, /ModuleNotFoundError/, `after ${start}`);
  }
  assert.equal(fs.existsSync('/tmp/llm-lens-pwned'), false);
  assert.equal(connections, 0, 'a connection reached the host server');
  assert.equal((await run('print(2 ** 10)', 30_000)).output, '1024\n');
});

test('a stopped call rejects with the abort reason, and the next call works', async () => {
  const controller = new AbortController();
  const pending = python.run('while True: pass', { timeoutMs: 10_000, signal: controller.signal });
  setTimeout(() => controller.abort(new Error('stopped by the user')), 300);
  await assert.rejects(pending, /stopped by the user/);
  assert.equal((await run('print("again")', 30_000)).output, 'again\n');
});

async function fields(p: Promise<{ ok: boolean; output: string }>): Promise<[boolean, string]> {
  const r = await p;
  return [r.ok, r.output];
}
