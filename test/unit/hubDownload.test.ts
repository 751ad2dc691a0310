/**
 * Downloads from a Hugging Face hub on 127.0.0.1 (fakeHub.ts: the hub's URLs and headers): the sharded
 * Llama fixture plus a tokenizer lands in the HF cache layout (blobs named by the sha256 computed here,
 * refs/main, relative symlinks), loads with loadModel and gives torch's logits as the source folder does;
 * README and pytorch_model.bin stay on the hub; a second call fetches nothing. A connection cut mid-shard
 * leaves a partial blob that the next call finishes with a Range request; bytes that do not match the
 * listed sha256 are refused naming the file; a gated repo without a token, a repo with only .bin weights,
 * an unknown repo or revision and an unreachable hub get messages that say what to do. No request leaves
 * the machine: every fetch goes to the fake hub's address. The CLI prints progress and the snapshot path.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { openSafetensors } from '../../src/engine/checkpoint/safetensors';
import { downloadModel, HubError, size, type DownloadProgress } from '../../src/engine/hub/download';
import { ProgressMeter } from '../../src/engine/hub/progressMeter';
import { listCachedModels } from '../../src/engine/hub/cache';
import { cachedRepoOf } from '../../src/engine/hub/repoName';
import { loadHuggingFaceTokenizer } from '../../src/engine/tokenizer/huggingface';
import { GptInference } from '../../src/engine/model/inference';
import { loadModel } from '../../src/engine/model/pretrained';
import { repoSha, startFakeHub, type FakeHub, type FakeRepo } from './fakeHub';

const SRC = 'test/fixtures/llama/gqa_sharded';
const SHARDS = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
const read = (f: string) => fs.readFileSync(f);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const temps: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-lens-hub-'));
  temps.push(d);
  return d;
};

function llamaFiles(): Record<string, Buffer> {
  const files: Record<string, Buffer> = {
    'config.json': read(path.join(SRC, 'config.json')),
    'model.safetensors.index.json': read(path.join(SRC, 'model.safetensors.index.json')),
    'tokenizer.json': read('test/fixtures/tokenizer/bytelevel/tokenizer.json'),
    'tokenizer_config.json': Buffer.from('{"model_max_length": 64}\n'),
    'README.md': Buffer.from('# tiny llama\n'),
    'pytorch_model.bin': Buffer.alloc(1000, 7),
    '.gitattributes': Buffer.from('*.safetensors filter=lfs\n'),
  };
  for (const s of SHARDS) files[s] = read(path.join(SRC, s));
  return files;
}

const flip = (b: Buffer, at: number) => {
  const c = Buffer.from(b);
  c[at] ^= 0xff;
  return c;
};

const repos: Record<string, FakeRepo> = {
  'test-org/tiny-llama': { files: llamaFiles() },
  'test-org/cut': { files: llamaFiles(), cutAfter: { [SHARDS[0]]: { bytes: 30000 } } },
  'test-org/corrupt': {
    files: llamaFiles(),
    serve: { [SHARDS[1]]: flip(read(path.join(SRC, SHARDS[1])), 5000) },
  },
  'test-org/corrupt-json': {
    files: llamaFiles(),
    serve: {
      'tokenizer.json': Buffer.from(
        read('test/fixtures/tokenizer/bytelevel/tokenizer.json').toString().replace('"', "'"),
      ),
    },
  },
  'test-org/no-ranges': { files: llamaFiles(), noRanges: true },
  'test-org/stall': { files: llamaFiles(), stallAfter: { [SHARDS[1]]: 20000 } },
  'test-org/gated': { files: llamaFiles(), gated: 'hf_allowed' },
  'test-org/bin-only': {
    files: {
      'config.json': read(path.join(SRC, 'config.json')),
      'tokenizer.json': read('test/fixtures/tokenizer/bytelevel/tokenizer.json'),
      'pytorch_model.bin': Buffer.alloc(99),
    },
  },
  'test-org/cli': { files: llamaFiles() },
  'test-org/meter': { files: llamaFiles() },
};

let hub: FakeHub;
const realFetch = globalThis.fetch;
const fetched: string[] = [];
before(async () => {
  hub = await startFakeHub(repos);
  // every request the code makes goes through here: none may leave for the real hub
  globalThis.fetch = (input, init) => {
    fetched.push(input instanceof Request ? input.url : String(input));
    return realFetch(input, init);
  };
});
after(async () => {
  globalThis.fetch = realFetch;
  await hub.close();
  temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

const resolves = (repo: string) =>
  hub.requests
    .filter((r) => r.url.startsWith(`/${repo}/resolve/`))
    .map((r) => ({ ...r, file: r.url.split('/').pop() }));

/** Torch's logits of the gqa fixture (test/fixtures/gen/llama_fixtures.py) at the last position. */
async function torchLast(): Promise<{ row: number[]; logits: Float32Array }> {
  const f = await openSafetensors('test/fixtures/llama/refs.safetensors');
  try {
    const idx = (await f.readValues('gqa/idx')) as BigInt64Array; // (B, T)
    const [, T] = f.tensor('gqa/idx').shape;
    const all = (await f.readValues('gqa/logits')) as Float32Array; // (B, T, V)
    const V = f.tensor('gqa/logits').shape[2];
    return { row: Array.from(idx.subarray(0, T), Number), logits: all.slice((T - 1) * V, T * V) };
  } finally {
    await f.close();
  }
}

async function lastLogits(dir: string, row: number[]): Promise<Float32Array> {
  const m = await loadModel(dir);
  const inf = await GptInference.forFamily(m.fam, m.config, m.weights, { threads: 1 });
  try {
    return await inf.nextLogits(row);
  } finally {
    await inf.release();
  }
}

test('a full download lands in the HF cache layout, loads, and gives the logits of the source folder', async () => {
  const cacheDir = tmp();
  const repo = 'test-org/tiny-llama';
  const events: DownloadProgress[] = [];
  const dir = await downloadModel({ repo, cacheDir, endpoint: hub.url, onProgress: (p) => events.push(p) });
  const sha = repoSha(repo, repos[repo]);
  const storage = path.join(cacheDir, 'models--test-org--tiny-llama');
  assert.equal(dir, path.join(storage, 'snapshots', sha));
  assert.equal(fs.readFileSync(path.join(storage, 'refs', 'main'), 'utf8'), sha);
  const want = [
    'config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    'model.safetensors.index.json',
    ...SHARDS,
  ];
  assert.deepEqual(fs.readdirSync(dir).sort(), [...want].sort());
  for (const s of SHARDS) {
    const link = path.join(dir, s);
    assert.ok(fs.lstatSync(link).isSymbolicLink(), `${s} is a symlink`);
    assert.equal(fs.readlinkSync(link), path.join('..', '..', 'blobs', sha256(read(path.join(SRC, s)))));
    assert.ok(read(link).equals(read(path.join(SRC, s))), `${s}: same bytes as the source`);
  }
  assert.ok(
    read(path.join(dir, 'tokenizer.json')).equals(read('test/fixtures/tokenizer/bytelevel/tokenizer.json')),
  );
  assert.deepEqual(
    resolves(repo)
      .map((r) => r.file)
      .sort(),
    [...want].sort(),
    'README.md, .gitattributes and pytorch_model.bin are not fetched',
  );
  for (const f of want) {
    const last = events.filter((e) => e.file === f).at(-1);
    assert.deepEqual(
      [last?.bytes, last?.total],
      [repos[repo].files[f].length, repos[repo].files[f].length],
      f,
    );
  }

  const torch = await torchLast();
  const got = await lastLogits(dir, torch.row);
  const source = await lastLogits(SRC, torch.row);
  assert.deepEqual(got, source, 'downloaded folder gives the source folder logits');
  let d = 0;
  for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i] - torch.logits[i]));
  assert.ok(d <= 1e-4, `max |downloaded - torch| = ${d}`);

  const before = hub.requests.length;
  assert.equal(await downloadModel({ repo, cacheDir, endpoint: hub.url }), dir);
  assert.equal(resolves(repo).length, want.length, 'the second call fetches no file');
  assert.ok(hub.requests.length > before, 'it still asks the hub which commit main is');
});

test('a connection cut mid-file leaves a partial blob that the next call resumes with Range', async () => {
  const cacheDir = tmp();
  const repo = 'test-org/cut';
  const shard = read(path.join(SRC, SHARDS[0]));
  const blob = path.join(cacheDir, 'models--test-org--cut', 'blobs', sha256(shard));
  await assert.rejects(downloadModel({ repo, cacheDir, endpoint: hub.url }), (e: Error) => {
    assert.match(
      e.message,
      new RegExp(`download of ${SHARDS[0]} was interrupted after \\d+ of ${shard.length}`),
    );
    assert.match(e.message, /run it again to resume/);
    return true;
  });
  const partial = fs.statSync(`${blob}.incomplete`).size;
  assert.ok(partial > 0 && partial <= 30000, `partial blob of ${partial} bytes`);
  assert.ok(!fs.existsSync(blob));

  const events: DownloadProgress[] = [];
  const dir = await downloadModel({ repo, cacheDir, endpoint: hub.url, onProgress: (p) => events.push(p) });
  const tries = resolves(repo).filter((r) => r.file === SHARDS[0]);
  assert.equal(tries.length, 2);
  assert.equal(tries[0].range, undefined);
  assert.equal(tries[1].range, `bytes=${partial}-`);
  assert.equal(tries[1].status, 206);
  assert.equal(tries[1].sent, shard.length - partial, 'only the rest is sent again');
  assert.ok(read(path.join(dir, SHARDS[0])).equals(shard));
  assert.ok(!fs.existsSync(`${blob}.incomplete`));
  assert.ok(
    events.filter((e) => e.file === SHARDS[0]).every((e) => e.bytes >= partial),
    'progress counts from the partial',
  );
  assert.deepEqual(await lastLogits(dir, [1, 2, 3]), await lastLogits(SRC, [1, 2, 3]));
});

test('an abort mid-file keeps the partial blob, and the next call resumes it', async () => {
  const cacheDir = tmp();
  const repo = 'test-org/stall';
  const shard = read(path.join(SRC, SHARDS[1]));
  const stop = new AbortController();
  const onProgress = (p: DownloadProgress) => p.file === SHARDS[1] && p.bytes > 0 && stop.abort();
  await assert.rejects(
    downloadModel({ repo, cacheDir, endpoint: hub.url, signal: stop.signal, onProgress }),
    { name: 'AbortError' },
  );
  const blob = path.join(cacheDir, 'models--test-org--stall', 'blobs', sha256(shard));
  const partial = fs.statSync(`${blob}.incomplete`).size;
  assert.ok(partial > 0 && partial <= 20000, `partial blob of ${partial} bytes`);
  const dir = await downloadModel({ repo, cacheDir, endpoint: hub.url });
  const tries = resolves(repo).filter((r) => r.file === SHARDS[1]);
  assert.deepEqual(
    tries.map((r) => r.range),
    [undefined, `bytes=${partial}-`],
  );
  assert.ok(read(path.join(dir, SHARDS[1])).equals(shard));
});

test('a server that ignores Range sends the whole file again and the partial file is replaced', async () => {
  const cacheDir = tmp();
  const shard = read(path.join(SRC, SHARDS[0]));
  const blobs = path.join(cacheDir, 'models--test-org--no-ranges', 'blobs');
  fs.mkdirSync(blobs, { recursive: true });
  fs.writeFileSync(path.join(blobs, `${sha256(shard)}.incomplete`), Buffer.alloc(1234, 1));
  const dir = await downloadModel({ repo: 'test-org/no-ranges', cacheDir, endpoint: hub.url });
  const asked = resolves('test-org/no-ranges').find((r) => r.file === SHARDS[0]);
  assert.deepEqual([asked?.range, asked?.status], ['bytes=1234-', 200]);
  assert.ok(read(path.join(dir, SHARDS[0])).equals(shard));
});

test('bytes that do not match the hub sha256 are refused, naming the file, and deleted', async () => {
  const cacheDir = tmp();
  const blobs = path.join(cacheDir, 'models--test-org--corrupt', 'blobs');
  await assert.rejects(
    downloadModel({ repo: 'test-org/corrupt', cacheDir, endpoint: hub.url }),
    (e: Error) => {
      assert.match(e.message, new RegExp(`^${SHARDS[1]}: the downloaded file has sha256 [0-9a-f]{64}`));
      assert.match(e.message, new RegExp(`the hub lists sha256 ${sha256(read(path.join(SRC, SHARDS[1])))}`));
      assert.match(e.message, /partial file was deleted/);
      return true;
    },
  );
  const left = fs.readdirSync(blobs);
  assert.ok(!left.some((f) => f.startsWith(sha256(read(path.join(SRC, SHARDS[1]))))), `left: ${left}`);
  assert.ok(left.includes(sha256(read(path.join(SRC, SHARDS[0])))), 'the good shard is kept');
});

test('a file kept in git is checked against its git blob sha1; an aborted call fetches nothing', async () => {
  const cacheDir = tmp();
  await assert.rejects(
    downloadModel({ repo: 'test-org/corrupt-json', cacheDir, endpoint: hub.url }),
    /^Error: tokenizer\.json: the downloaded file has git blob sha1 [0-9a-f]{40} \(the hub lists git blob sha1 [0-9a-f]{40}\)/,
  );
  const stop = new AbortController();
  stop.abort();
  const n = hub.requests.length;
  await assert.rejects(
    downloadModel({ repo: 'test-org/tiny-llama', cacheDir, endpoint: hub.url, signal: stop.signal }),
    { name: 'AbortError' },
  );
  assert.equal(hub.requests.length, n, 'no request');
});

test('a gated repo without a token says to accept the license and set a token; with it, it downloads', async () => {
  const cacheDir = tmp();
  const repo = 'test-org/gated';
  await assert.rejects(
    downloadModel({ repo, cacheDir, endpoint: hub.url }),
    /^Error: test-org\/gated is gated or private \(config\.json\): accept its license on the hub \(http:\/\/127\.0\.0\.1:\d+\/test-org\/gated\) and set a token \(HF_TOKEN/,
  );
  assert.equal(resolves(repo)[0].status, 401);
  await assert.rejects(
    downloadModel({ repo, cacheDir, endpoint: hub.url, token: 'hf_other' }),
    /is gated or private/,
  );
  assert.equal(resolves(repo).at(-1)?.status, 403);
  await assert.rejects(
    downloadModel({ repo, cacheDir, endpoint: hub.url, token: 'xyz' }),
    /must be .*starting with hf_/,
  );
  const dir = await downloadModel({ repo, cacheDir, endpoint: hub.url, token: 'hf_allowed' });
  assert.ok(read(path.join(dir, SHARDS[1])).equals(read(path.join(SRC, SHARDS[1]))));
  assert.ok(
    resolves(repo)
      .slice(2)
      .every((r) => r.authorization === 'Bearer hf_allowed'),
  );
});

test('a repo with only pytorch_model.bin is refused before any file is fetched', async () => {
  const cacheDir = tmp();
  await assert.rejects(
    downloadModel({ repo: 'test-org/bin-only', cacheDir, endpoint: hub.url }),
    /^Error: test-org\/bin-only at main has only pytorch_model\.bin, not safetensors: LLM Lens reads safetensors/,
  );
  assert.deepEqual(resolves('test-org/bin-only'), [], 'nothing is fetched');
});

test('an unknown repo or revision, a bad name and an unreachable hub are named', async () => {
  const cacheDir = tmp();
  await assert.rejects(
    downloadModel({ repo: 'test-org/nope', cacheDir, endpoint: hub.url }),
    /^Error: test-org\/nope not found on http:\/\/127\.0\.0\.1:\d+: check the name/,
  );
  await assert.rejects(
    downloadModel({ repo: 'test-org/tiny-llama', revision: 'v9', cacheDir, endpoint: hub.url }),
    /^Error: revision "v9" not found in test-org\/tiny-llama/,
  );
  await assert.rejects(
    downloadModel({ repo: '../etc', cacheDir, endpoint: hub.url }),
    /is not a model repo name/,
  );
  await assert.rejects(
    downloadModel({ repo: 'test-org/tiny-llama', revision: '../../x', cacheDir, endpoint: hub.url }),
    /"\.\.\/\.\.\/x" is not a revision/,
  );
  const closed = await startFakeHub({});
  await closed.close();
  await assert.rejects(
    downloadModel({ repo: 'test-org/tiny-llama', cacheDir, endpoint: closed.url }),
    /^Error: cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED.*\): check the network/,
  );
});

test('llm-lens download prints progress and the snapshot path', async () => {
  const cacheDir = tmp();
  const args = ['download', 'test-org/cli', '--cache-dir', cacheDir, '--endpoint', hub.url];
  const child = spawn(process.execPath, [path.resolve('dist/cli.js'), ...args], {
    env: { ...process.env, HF_ENDPOINT: 'http://127.0.0.1:1', HF_TOKEN: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr);
  const sha = repoSha('test-org/cli', repos['test-org/cli']);
  assert.equal(stdout, path.join(cacheDir, 'models--test-org--cli', 'snapshots', sha) + '\n');
  for (const s of SHARDS) assert.match(stderr, new RegExp(`${s} +\\d+(\\.\\d)? kB / \\d+(\\.\\d)? kB 100%`));
  assert.equal(resolves('test-org/cli').length, 6);
});

test('onPlan names every file to fetch with its size; the meter reaches 100% of their bytes', async () => {
  const repo = 'test-org/meter';
  const files = repos[repo].files;
  const wanted = [
    'config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    'model.safetensors.index.json',
    ...SHARDS,
  ];
  const bytes = wanted.reduce((s, f) => s + files[f].length, 0); // from the repo's buffers, not the code's plan
  const plans: { path: string; size: number }[][] = [];
  const reports: { message: string; increment?: number }[] = [];
  let clock = 0;
  const meter = new ProgressMeter(
    (message, increment) => reports.push({ message, increment }),
    () => (clock += 50), // 50 ms between events: some are coalesced, every completed file is shown
  );
  await downloadModel({
    repo,
    cacheDir: tmp(),
    endpoint: hub.url,
    onPlan: (p) => plans.push(p) && meter.plan(p),
    onProgress: (p) => meter.update(p),
  });
  meter.flush();
  assert.equal(plans.length, 1, 'one plan');
  assert.deepEqual(
    plans[0].map((f) => f.path).sort(),
    [...wanted].sort(),
    'the plan is the files fetched, without README, .bin or .gitattributes',
  );
  assert.deepEqual(
    plans[0].map((f) => f.size),
    plans[0].map((f) => files[f.path].length),
  );
  const total = reports.reduce((s, r) => s + (r.increment ?? 0), 0);
  assert.ok(Math.abs(total - 100) < 1e-9, `increments sum to ${total}`);
  const last = `${SHARDS[1]} · ${size(bytes)} of ${size(bytes)}`;
  assert.ok(reports.at(-1)!.message.startsWith(last), `${reports.at(-1)!.message} starts with ${last}`);
  assert.ok(
    reports.every((r) => r.increment === undefined || r.increment > 0),
    'the bar never goes back',
  );
});

test("a refused request is a HubError with its status; the token hint is the caller's", async () => {
  const cacheDir = tmp();
  const repo = 'test-org/gated';
  const e = await downloadModel({
    repo,
    cacheDir,
    endpoint: hub.url,
    tokenHint: 'LLM Lens: Set Hugging Face Token…',
  }).then(
    () => assert.fail('a gated repo downloaded without a token'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof HubError);
  assert.equal(e.status, 401);
  assert.match(
    e.message,
    /set a token \(LLM Lens: Set Hugging Face Token…, from https:\/\/huggingface\.co\/settings\/tokens\)/,
  );
  const missing = await downloadModel({ repo: 'test-org/nope', cacheDir, endpoint: hub.url }).catch(
    (err: unknown) => err,
  );
  assert.ok(missing instanceof HubError && missing.status === 404, String(missing));
});

test('listCachedModels finds each downloaded snapshot with its refs and tokenizer; other folders are skipped', async () => {
  const cacheDir = tmp();
  assert.deepEqual(listCachedModels(path.join(cacheDir, 'absent')), []);
  const a = await downloadModel({ repo: 'test-org/tiny-llama', cacheDir, endpoint: hub.url });
  const b = await downloadModel({
    repo: 'test-org/meter',
    cacheDir,
    endpoint: hub.url,
    revision: repoSha('test-org/meter', repos['test-org/meter']),
  });
  fs.mkdirSync(path.join(cacheDir, 'models--test-org--empty', 'snapshots', 'f'.repeat(40)), {
    recursive: true,
  });
  fs.mkdirSync(path.join(cacheDir, 'datasets--test-org--data', 'snapshots'), { recursive: true });
  fs.mkdirSync(path.join(cacheDir, '.locks'));
  const got = listCachedModels(cacheDir).sort((x, y) => x.repo.localeCompare(y.repo));
  assert.deepEqual(
    got.map((m) => ({ repo: m.repo, commit: m.commit, refs: m.refs, dir: m.dir, tokenizer: m.tokenizer })),
    [
      {
        repo: 'test-org/meter',
        commit: repoSha('test-org/meter', repos['test-org/meter']),
        refs: [],
        dir: b,
        tokenizer: path.join(b, 'tokenizer.json'),
      },
      {
        repo: 'test-org/tiny-llama',
        commit: repoSha('test-org/tiny-llama', repos['test-org/tiny-llama']),
        refs: ['main'],
        dir: a,
        tokenizer: path.join(a, 'tokenizer.json'),
      },
    ],
  );
  assert.equal(cachedRepoOf(path.join(a, 'tokenizer.json')), 'test-org/tiny-llama');
  assert.equal(cachedRepoOf('/models/SmolLM2-135M/tokenizer.json'), undefined);
  // its tokenizer is named by the repo too, not by the snapshot's commit hash
  assert.equal(loadHuggingFaceTokenizer(path.join(a, 'tokenizer.json')).name, 'test-org/tiny-llama');
});

test('no request left the machine: every fetch went to the fake hub', () => {
  assert.ok(fetched.length > 20);
  for (const u of fetched) assert.ok(u.startsWith('http://127.0.0.1:'), u);
});
