/** Training data: nanoGPT-format token files, cache, streaming pieces and batches, against brute force. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { get_encoding } from 'tiktoken';
import { CharTokenizer } from '../../src/engine/tokenizer/charLevel';
import { getEncoding } from '../../src/engine/tokenizer/builtin';
import {
  batchAt,
  expandInputs,
  prepareDataset,
  readDatasetMeta,
  sampleBatch,
  textPieces,
  TokenFile,
} from '../../src/engine/train/data';
import { Rng } from '../../src/engine/train/rng';

const tmp = () => fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-data-'));
const TEXT =
  'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak. — ünïcödé 🍓\n'.repeat(
    40,
  );

function readBin(file: string, bytesPer: 2 | 4): number[] {
  const b = fs.readFileSync(file);
  const out: number[] = [];
  for (let i = 0; i < b.length; i += bytesPer)
    out.push(bytesPer === 2 ? b.readUInt16LE(i) : b.readUInt32LE(i));
  return out;
}

test("char-level dataset: train.bin + val.bin are the text's ids, split 90/10 at the end like nanoGPT", async () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'input.txt'), TEXT);
  const tok = CharTokenizer.fromText(TEXT);
  const ds = await prepareDataset({
    files: [path.join(dir, 'input.txt')],
    tokenizer: tok,
    tokenizerId: 'char',
    cacheDir: path.join(dir, 'cache'),
  });
  const ids = [...TEXT].map((c) => tok.chars.indexOf(c)); // brute force: one id per code point
  const n = ids.length;
  assert.equal(ds.meta.dtype, 'uint16');
  assert.equal(ds.meta.valTokens, Math.floor(n * 0.1));
  assert.deepEqual(readBin(path.join(ds.dir, 'train.bin'), 2), ids.slice(0, n - Math.floor(n * 0.1)));
  assert.deepEqual(readBin(path.join(ds.dir, 'val.bin'), 2), ids.slice(n - Math.floor(n * 0.1)));
  assert.equal(ds.cached, false);
  const again = await prepareDataset({
    files: [path.join(dir, 'input.txt')],
    tokenizer: tok,
    tokenizerId: 'char',
    cacheDir: path.join(dir, 'cache'),
  });
  assert.equal(again.cached, true);
  assert.equal(again.dir, ds.dir);
  fs.appendFileSync(path.join(dir, 'input.txt'), 'more\n');
  const changed = await prepareDataset({
    files: [path.join(dir, 'input.txt')],
    tokenizer: CharTokenizer.fromText(TEXT + 'more\n'),
    tokenizerId: 'char',
    cacheDir: path.join(dir, 'cache'),
  });
  assert.notEqual(changed.dir, ds.dir);
});

test('GPT-2 ids match tiktoken; cl100k_base needs uint32 files', async () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'a.txt'), TEXT);
  const ds = await prepareDataset({
    files: [path.join(dir, 'a.txt')],
    tokenizer: getEncoding('gpt2'),
    tokenizerId: 'gpt2',
    cacheDir: dir,
    valFraction: 0,
  });
  const enc = get_encoding('gpt2');
  // the file is tokenized as one piece here (smaller than a piece), so the ids equal encoding the whole text
  assert.deepEqual(readBin(path.join(ds.dir, 'train.bin'), 2), Array.from(enc.encode(TEXT, [], [])));
  enc.free();
  const big = await prepareDataset({
    files: [path.join(dir, 'a.txt')],
    tokenizer: getEncoding('cl100k_base'),
    tokenizerId: 'cl100k_base',
    cacheDir: dir,
  });
  assert.equal(big.meta.dtype, 'uint32');
  const cl = get_encoding('cl100k_base');
  const all = Array.from(cl.encode(TEXT, [], []));
  cl.free();
  assert.deepEqual(
    [...readBin(path.join(big.dir, 'train.bin'), 4), ...readBin(path.join(big.dir, 'val.bin'), 4)],
    all,
  );
});

test('text pieces end after a newline, keep multi-byte characters whole and rebuild the file', () => {
  const dir = tmp();
  const file = path.join(dir, 'u.txt');
  fs.writeFileSync(file, TEXT);
  for (const size of [7, 64, 1000]) {
    const pieces = [...textPieces(file, size)];
    assert.equal(pieces.join(''), TEXT);
    for (const p of pieces.slice(0, -1)) assert.ok(p.endsWith('\n'), JSON.stringify(p.slice(-5)));
  }
});

test('batches are windows of the token file with targets shifted by one; offsets replay exactly', async () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'input.txt'), TEXT);
  const tok = CharTokenizer.fromText(TEXT);
  const ds = await prepareDataset({
    files: [path.join(dir, 'input.txt')],
    tokenizer: tok,
    tokenizerId: 'char',
    cacheDir: dir,
  });
  const data = new TokenFile(path.join(ds.dir, 'train.bin'), ds.meta.dtype);
  const all = readBin(path.join(ds.dir, 'train.bin'), 2);
  const rng = new Rng(7);
  const B = 4;
  const T = 16;
  const batch = sampleBatch(data, B, T, (n) => rng.randint(n));
  for (let b = 0; b < B; b++) {
    const o = batch.offsets[b];
    assert.ok(o >= 0 && o < all.length - T);
    assert.deepEqual(Array.from(batch.idx.subarray(b * T, (b + 1) * T), Number), all.slice(o, o + T));
    assert.deepEqual(
      Array.from(batch.targets.subarray(b * T, (b + 1) * T), Number),
      all.slice(o + 1, o + T + 1),
    );
  }
  assert.deepEqual(batchAt(data, T, batch.offsets), batch);
  // the RNG state resumes the same sequence
  const a = new Rng(3);
  a.randint(10);
  const saved = a.state;
  const next = [a.randint(1000), a.randint(1000)];
  const b2 = new Rng(0, saved);
  assert.deepEqual([b2.randint(1000), b2.randint(1000)], next);
  data.close();
});

test('bad data: empty, binary, shorter than a block, missing pieces of a dataset', async () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'bin.dat'), Buffer.from([1, 2, 0, 3]));
  fs.writeFileSync(path.join(dir, 'tiny.txt'), 'hi there\n');
  fs.writeFileSync(path.join(dir, 'empty.txt'), '');
  assert.deepEqual(
    expandInputs([dir]).map((f) => path.basename(f)),
    ['tiny.txt'],
  );
  await assert.rejects(
    prepareDataset({ files: [], tokenizer: getEncoding('gpt2'), tokenizerId: 'gpt2', cacheDir: dir }),
    /no training files/,
  );
  await assert.rejects(
    prepareDataset({
      files: [path.join(dir, 'bin.dat')],
      tokenizer: getEncoding('gpt2'),
      tokenizerId: 'gpt2',
      cacheDir: dir,
    }),
    /looks binary/,
  );
  const ds = await prepareDataset({
    files: [path.join(dir, 'tiny.txt')],
    tokenizer: getEncoding('gpt2'),
    tokenizerId: 'gpt2',
    cacheDir: dir,
  });
  const data = new TokenFile(path.join(ds.dir, 'train.bin'), ds.meta.dtype);
  assert.throws(() => sampleBatch(data, 2, 64, () => 0), /fewer than one block of 64/);
  data.close();
  fs.truncateSync(path.join(ds.dir, 'train.bin'), 1);
  assert.throws(() => readDatasetMeta(ds.dir), /incomplete, prepare it again/);
  assert.throws(() => expandInputs([path.join(dir, 'nope')]), /no such file or folder/);
});
