/**
 * The search tool over a small folder written here, whose answers are known by reading it: which file
 * and line a query finds, the exact output lines, the files it must skip (binary, too large, not text,
 * node_modules, dot-folders, links), the output cap against every cap from 100 to 2000, passages against
 * a hand split, updates after files change, and the time limit and abort on a folder of 3000 files.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { createSearchTool, processTerm, splitPassages } from '../../src/engine/tools/search';

const root = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-search-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const T = { timeoutMs: 10_000 };

const VOLCANO = [
  'Volcanoes of the north', // 1: a short heading, joins the paragraph below
  '',
  'Mount Orvel erupted in spring; ash covered the valley for weeks and the farmers moved their herds.',
  'The eruption was the largest in a century.',
  '',
  'Lava from the second vent cooled into black basalt columns that visitors still climb near the harbour.',
  '',
].join('\n');

/** A folder with text the tool must find and files it must skip, each holding a word found nowhere else. */
function fixture(dir: string) {
  const put = (rel: string, data: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), data);
  };
  put(
    'notes/alpacas.md',
    '# Alpacas\n\nAlpacas are kept for their fleece, which is spun into yarn in the high valleys.\n',
  );
  put('notes/volcano.txt', VOLCANO);
  put('src/parser.ts', 'export function parseExpression(text: string) {\n  return text.split("+");\n}\n');
  put('Makefile', 'all:\n\techo gnocchi\n');
  put('image.png', Buffer.from('\x89PNG\r\n\x1a\n\0\0\0 alpaca armadillo', 'latin1')); // not a text extension
  put('fake.txt', Buffer.from('zebrafish\0\0\x01\x02', 'latin1')); // a NUL byte: binary
  put('latin1.txt', Buffer.from('caf\xe9 ocelot', 'latin1')); // not UTF-8
  put('data.bin', 'narwhal'); // not a text extension
  put('big.md', 'hippopotamus '.repeat(30_000)); // 390 kB > 256 KiB
  put('node_modules/pkg/readme.md', 'quokka');
  put('.git/notes.txt', 'quokka');
  put('.hidden/x.md', 'quokka');
  put('outside/wombat.md', 'wombat');
  fs.symlinkSync(path.join(dir, 'outside'), path.join(dir, 'link')); // a link to a folder: not followed
  fs.symlinkSync(path.join(dir, 'notes/alpacas.md'), path.join(dir, 'alias.md')); // nor to a file
}

test('finds the file and line a query names, in the documented format', async () => {
  const dir = path.join(root, 'find');
  fixture(dir);
  const s = createSearchTool({ dir });
  const r = await s.run('basalt columns', T);
  assert.equal(r.ok, true);
  assert.equal(
    r.output,
    'notes/volcano.txt:6: Lava from the second vent cooled into black basalt columns that visitors still climb near the harbour.',
  );
  // the heading (line 1) joins its paragraph: one passage from line 1, newlines collapsed
  assert.equal(
    (await s.run('eruption', T)).output,
    'notes/volcano.txt:1: Volcanoes of the north Mount Orvel erupted in spring; ash covered the valley for weeks ' +
      'and the farmers moved their herds. The eruption was the largest in a century.',
  );
  const hits = await s.search('alpacas fleece', T);
  assert.deepEqual(
    hits.map((h) => `${h.file}:${h.line}`),
    ['notes/alpacas.md:1'],
  );
  // camelCase words are found by their parts, files by name without extension
  assert.equal((await s.search('parse expression', T))[0].file, 'src/parser.ts');
  assert.equal((await s.search('gnocchi', T))[0].file, 'Makefile');
  // the file's path is indexed: a word of a file name finds it
  assert.equal((await s.search('volcano', T))[0].file, 'notes/volcano.txt');
  // stop words alone find nothing
  assert.equal((await s.run('the of and', T)).output, 'no results for "the of and"');
});

test('skips binaries, large files, other extensions, node_modules, dot-folders and links', async () => {
  const dir = path.join(root, 'skip');
  fixture(dir);
  const s = createSearchTool({ dir });
  for (const word of ['zebrafish', 'ocelot', 'narwhal', 'hippopotamus', 'quokka', 'armadillo']) {
    assert.deepEqual(
      { ...(await s.run(word, T)), ms: 0 },
      { ok: true, output: `no results for "${word}"`, ms: 0 },
    );
  }
  // wombat is only in outside/ itself, never through the link
  assert.deepEqual(
    (await s.search('wombat', T)).map((h) => h.file),
    ['outside/wombat.md'],
  );
  assert.deepEqual(
    (await s.search('alpacas', T)).map((h) => h.file),
    ['notes/alpacas.md'],
  );
  // notes/alpacas.md, notes/volcano.txt, src/parser.ts, Makefile, outside/wombat.md
  assert.deepEqual(s.stats().files, 5);
});

test('passages: paragraphs with their first line, short ones joined, long ones cut', () => {
  assert.deepEqual(splitPassages(VOLCANO), [
    {
      line: 1,
      text:
        'Volcanoes of the north\nMount Orvel erupted in spring; ash covered the valley for weeks and the farmers ' +
        'moved their herds.\nThe eruption was the largest in a century.',
    },
    {
      line: 6,
      text: 'Lava from the second vent cooled into black basalt columns that visitors still climb near the harbour.',
    },
  ]);
  // cut at line ends when a paragraph is too long, and inside a line longer than the limit
  const line = (c: string) => c.repeat(40);
  assert.deepEqual(splitPassages(['', line('a'), line('b'), line('c'), 'd'.repeat(250)].join('\r\n'), 100), [
    { line: 2, text: `${line('a')}\n${line('b')}` },
    { line: 4, text: line('c') }, // short, but the next piece does not fit beside it
    { line: 5, text: 'd'.repeat(100) },
    { line: 5, text: 'd'.repeat(100) },
    { line: 5, text: 'd'.repeat(50) },
  ]);
  // every line of a text without overlong lines comes back, in order, within the limit
  const words = 'one two three four five six seven eight nine ten'.split(' ');
  const text = Array.from({ length: 300 }, (_, i) =>
    i % 7 === 3 ? '' : words.slice(0, 1 + ((i * 37) % 10)).join(' '),
  );
  const ps = splitPassages(text.join('\n'), 120);
  assert.deepEqual(
    ps.flatMap((p) => p.text.split('\n')),
    text.filter((l) => l),
  );
  for (const p of ps) {
    assert.ok(p.text.length <= 120);
    assert.equal(text[p.line - 1], p.text.split('\n')[0]);
  }
});

test('index terms: lowercase, stop words dropped, camelCase parts', () => {
  assert.deepEqual(processTerm('The'), null);
  assert.deepEqual(processTerm('Basalt'), ['basalt']);
  assert.deepEqual(processTerm('createSearchTool'), ['createsearchtool', 'create', 'search', 'tool']);
  assert.deepEqual(processTerm('parseHTMLFile2'), ['parsehtmlfile2', 'parse', 'html', 'file', '2']);
});

test('output: best passages first, within the cap for every cap, cut ones end in ...', async () => {
  const documents = Array.from({ length: 8 }, (_, i) => ({
    title: `doc${i}`,
    text: `kestrel ${'kestrel '.repeat(8 - i)}${'filler words here '.repeat(5 + 6 * i)}`.trim(),
  }));
  for (let maxOutputChars = 100; maxOutputChars <= 2000; maxOutputChars += 37) {
    const s = createSearchTool({ documents }, { maxOutputChars, topK: 5 });
    const hits = await s.search('kestrel', T);
    const out = (await s.run('kestrel', T)).output;
    assert.ok(out.length <= maxOutputChars, `${out.length} > ${maxOutputChars}`);
    const lines = out.split('\n');
    // the lines are the hits in rank order, each whole or cut with '...'
    lines.forEach((l, i) => {
      const whole = `${hits[i].file}:${hits[i].line}: ${hits[i].text}`;
      if (l !== whole) assert.ok(l.endsWith('...') && whole.startsWith(l.slice(0, -3)), `${l} vs ${whole}`);
      if (i < lines.length - 1) assert.equal(l, whole, 'only the last line is cut');
    });
    // nothing left out that would have fit whole
    if (lines.length < hits.length && !out.endsWith('...')) {
      const next = `${hits[lines.length].file}:${hits[lines.length].line}: ${hits[lines.length].text}`;
      assert.ok(out.length + 1 + next.length > maxOutputChars);
    }
  }
  // the more times the word, the better the rank (BM25 on these lengths): doc0 first
  const s = createSearchTool({ documents });
  assert.deepEqual(
    (await s.search('kestrel', T)).map((h) => h.file),
    ['doc0', 'doc1', 'doc2'],
  );
  assert.throws(
    () => createSearchTool({ documents }, { maxOutputChars: 50 }),
    /maxOutputChars must be at least 100/,
  );
  assert.throws(
    () => createSearchTool({ documents }, { topK: 0 }),
    /option topK must be a positive integer, got 0/,
  );
});

test('no hit is a result, an empty query an error, documents are named by title', async () => {
  const s = createSearchTool({
    documents: [{ title: 'Estravel', text: 'Estravel is a town on the river Osk.' }],
  });
  assert.deepEqual(
    { ...(await s.run('zebra', T)), ms: 0 },
    { ok: true, output: 'no results for "zebra"', ms: 0 },
  );
  assert.deepEqual(
    { ...(await s.run('  \n', T)), ms: 0 },
    { ok: false, output: 'Error: the search query is empty; write the words to look for', ms: 0 },
  );
  assert.equal((await s.run('river Osk', T)).output, 'Estravel:1: Estravel is a town on the river Osk.');
  const missing = path.join(root, 'no-such-folder');
  const r = await createSearchTool({ dir: missing }).run('x', T);
  assert.equal(r.ok, false);
  assert.match(r.output, new RegExp(`^Error: cannot read the search folder ${missing}: ENOENT`));
});

test('follows changes: new, edited and deleted files; reindex() catches what mtime misses', async () => {
  const dir = path.join(root, 'change');
  fixture(dir);
  const s = createSearchTool({ dir });
  const files = () => s.search('pelican fleece', T).then((hs) => hs.map((h) => h.file).sort());
  assert.deepEqual(await files(), ['notes/alpacas.md']);
  fs.writeFileSync(path.join(dir, 'notes/birds.md'), 'The pelican keeps fish in its pouch.');
  assert.deepEqual(await files(), ['notes/alpacas.md', 'notes/birds.md']);
  fs.writeFileSync(path.join(dir, 'notes/alpacas.md'), '# Alpacas\n\nAlpacas hum.');
  assert.deepEqual(await files(), ['notes/birds.md']);
  assert.equal((await s.search('hum', T))[0].file, 'notes/alpacas.md');
  fs.rmSync(path.join(dir, 'notes/birds.md'));
  assert.deepEqual(await files(), []);
  // same size and mtime: the update cannot see it, reindex() does
  const p = path.join(dir, 'notes/alpacas.md');
  fs.utimesSync(p, 1e9, 1e9); // whole seconds: set again exactly below
  assert.equal((await s.search('hum', T))[0].file, 'notes/alpacas.md');
  fs.writeFileSync(p, '# Alpacas\n\nAlpacas ate.');
  fs.utimesSync(p, 1e9, 1e9);
  assert.equal((await s.search('hum', T))[0].file, 'notes/alpacas.md');
  s.reindex();
  assert.deepEqual(await s.search('hum', T), []);
  assert.equal((await s.search('ate', T))[0].file, 'notes/alpacas.md');
});

test('two searches at once build one index', async () => {
  const dir = path.join(root, 'twice');
  fixture(dir);
  const once = createSearchTool({ dir });
  await once.search('x', T);
  const s = createSearchTool({ dir });
  const [a, b] = await Promise.all([s.run('alpacas', T), s.run('alpacas', T)]);
  assert.equal(a.output, b.output);
  assert.deepEqual(s.stats(), once.stats());
});

test('a folder too large for the limit: an error result, kept progress, abort rejects', async () => {
  const dir = path.join(root, 'huge');
  for (let d = 0; d < 30; d++) {
    fs.mkdirSync(path.join(dir, `d${d}`), { recursive: true });
    for (let f = 0; f < 100; f++)
      fs.writeFileSync(
        path.join(dir, `d${d}`, `f${f}.md`),
        `file ${d}-${f} ${'lorem ipsum dolor '.repeat(20)}\n`,
      );
  }
  const s = createSearchTool({ dir });
  const r = await s.run('lorem', { timeoutMs: 30 });
  assert.equal(r.ok, false);
  assert.match(
    r.output,
    new RegExp(`^Error: indexing the search folder ${dir} took longer than the limit \\(\\d+ files`),
  );
  assert.ok(r.ms < 1000, `stopped after ${r.ms} ms`);
  const first = s.stats().files;
  assert.ok(first > 0 && first < 3000, `${first} files indexed`);
  // each search goes on where the last one stopped
  let calls = 1;
  while (!(await s.run('lorem', { timeoutMs: 300 })).ok) assert.ok(++calls < 100);
  assert.ok(calls > 1);
  assert.deepEqual(s.stats(), { files: 3000, passages: 3000 });

  const ac = new AbortController();
  const fresh = createSearchTool({ dir });
  setTimeout(() => ac.abort(new Error('stopped by the user')), 20);
  await assert.rejects(fresh.run('lorem', { timeoutMs: 60_000, signal: ac.signal }), /stopped by the user/);
  assert.ok(fresh.stats().files < 3000);

  const small = createSearchTool({ dir }, { maxTotalBytes: 20_000 });
  const t = await small.run('lorem', T);
  assert.equal(t.ok, false);
  assert.match(
    t.output,
    /^Error: the search folder holds more than 20000 bytes of text \(at d0\/f\d+\.md\); pick a smaller folder or raise maxTotalBytes$/,
  );
});
