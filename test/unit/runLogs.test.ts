/**
 * The log reader of runs trained elsewhere, against TensorBoard event files written by an independent
 * writer (test/fixtures/gen/tfevents_fixtures.py: Google's protobuf library with TensorFlow's schema, CRCs
 * computed in Python) and its expected.json: every scalar and text as written (PyTorch's simple_value,
 * tf.summary's tensors in float_val / tensor_content / double_val, an int64 step past 2^32), histograms
 * skipped; a truncated last record, a wrong data CRC, a wrong length CRC and a framed non-Event counted,
 * never thrown. Tailing: a file read at every cut point, then whole, gives each record once. JSONL logs
 * (llm-lens's metrics.jsonl shape, nanoGPT's iter) and the CLI's --json lines.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { crc32c, maskedCrc32c } from '../../src/engine/runs/crc32c';
import { LogReader, type LogPoint } from '../../src/engine/runs/logReader';

const FIXTURES = 'test/fixtures/tfevents';
interface Expected {
  records: LogPoint[];
  damaged: Record<string, { truncated?: number; corrupt?: number }>;
}
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as Expected;
const temps: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-lens-logs-'));
  temps.push(d);
  return d;
};
after(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const byRun = (points: LogPoint[]) => {
  const m = new Map<string, LogPoint[]>();
  for (const p of points) (m.get(p.run) ?? m.set(p.run, []).get(p.run)!).push(p);
  return m;
};

test('CRC-32C gives the standard check value; the mask is TensorFlow’s', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43); // RFC 3720 B.4: 32 bytes of ones
  // a record's length CRC as the Python writer framed it: the first record of the pytorch run
  const b = fs.readFileSync(path.join(FIXTURES, 'pytorch', 'events.out.tfevents.1700000000.host.1.0'));
  assert.equal(maskedCrc32c(b, 0, 8), b.readUInt32LE(8));
});

test('every scalar and text the writer wrote is read, in order, with its step and wall time', () => {
  const reader = new LogReader(FIXTURES);
  const got = byRun(reader.poll().points);
  const want = byRun(expected.records);
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [run, points] of want) assert.deepEqual(got.get(run), points, run);
  assert.deepEqual(reader.runs(), ['badcrc', 'badlength', 'notevent', 'pytorch', 'tf2', 'truncated']);
  assert.deepEqual(reader.poll().points, [], 'nothing new');
});

test('damage is counted per file, never thrown: truncated, bad CRC, bad length CRC, not an Event', () => {
  const reader = new LogReader(FIXTURES);
  reader.poll();
  const problems = Object.fromEntries(
    reader.problems().map((p) => [path.basename(path.dirname(p.file)), p] as const),
  );
  assert.deepEqual(Object.keys(problems).sort(), Object.keys(expected.damaged).sort());
  for (const [run, d] of Object.entries(expected.damaged)) {
    assert.equal(problems[run].corrupt, d.corrupt ?? 0, `${run} corrupt`);
    assert.equal(problems[run].truncated, (d.truncated ?? 0) > 0, `${run} truncated`);
  }
  assert.equal(problems.badlength.stuck, true);
  assert.equal(problems.badcrc.stuck, false);
});

test('a growing event file, cut at every byte, gives each record once when the rest arrives', () => {
  const src = path.join(FIXTURES, 'pytorch', 'events.out.tfevents.1700000000.host.1.0');
  const bytes = fs.readFileSync(src);
  const want = expected.records.filter((p) => p.run === 'pytorch' && p.step < 50 && p.wallTime! < 1700000100);
  const dir = tmp();
  for (let cut = 0; cut <= bytes.length; cut += 7) {
    const run = path.join(dir, `cut${cut}`);
    fs.mkdirSync(run);
    const file = path.join(run, path.basename(src));
    fs.writeFileSync(file, bytes.subarray(0, cut));
    const reader = new LogReader(run);
    const first = reader.poll().points;
    fs.appendFileSync(file, bytes.subarray(cut));
    const rest = reader.poll().points;
    assert.deepEqual(
      [...first, ...rest].map((p) => ({ ...p, run: 'pytorch' })),
      want,
      `cut at ${cut}`,
    );
    assert.equal(reader.problems().length, 0, `cut at ${cut}: whole in the end`);
  }
});

test('a file that shrank (rewritten) is read again from the start', () => {
  const dir = tmp();
  const file = path.join(dir, 'events.out.tfevents.1.host');
  const src = fs.readFileSync(path.join(FIXTURES, 'truncated', 'events.out.tfevents.1700002000.host.1.0'));
  fs.writeFileSync(file, src);
  const reader = new LogReader(dir);
  assert.equal(reader.poll().points.length, 3);
  const tf2 = fs.readFileSync(path.join(FIXTURES, 'tf2', 'events.out.tfevents.1700001000.host.7.v2'));
  fs.writeFileSync(file, tf2.subarray(0, 110)); // shorter than what was read: the version and one scalar
  const again = reader.poll().points;
  assert.deepEqual(
    again.map((p) => p.value),
    [2.5],
    'the first whole scalar record of the new content',
  );
});

test('JSONL logs: the step from step/iter, numbers as tags, nested as a/b, text, bad and partial lines', () => {
  const dir = tmp();
  const run = path.join(dir, 'nano');
  fs.mkdirSync(run);
  const file = path.join(run, 'log.jsonl');
  fs.writeFileSync(
    file,
    [
      '{"iter": 0, "loss": 4.2, "lr": 0.0006, "time": 1700000000123}',
      'not json',
      '[1, 2]',
      '{"note": "no step here", "loss": 9}',
      '{"iter": 10, "loss": 3.5, "mfu": {"pct": 12.5}, "sample": "To be", "tags": ["x"], "ok": true}',
      '{"iter": 20, "lo',
    ].join('\n'),
  );
  const reader = new LogReader(dir);
  assert.deepEqual(reader.poll().points, [
    { run: 'nano', step: 0, wallTime: 1700000000.123, tag: 'loss', value: 4.2 },
    { run: 'nano', step: 0, wallTime: 1700000000.123, tag: 'lr', value: 0.0006 },
    { run: 'nano', step: 10, tag: 'loss', value: 3.5 },
    { run: 'nano', step: 10, tag: 'mfu/pct', value: 12.5 },
    { run: 'nano', step: 10, tag: 'sample', text: 'To be' },
  ]);
  assert.deepEqual(reader.problems(), [{ file, corrupt: 2, truncated: true, stuck: false }]);
  fs.appendFileSync(file, 'ss": 3.0}\n');
  assert.deepEqual(reader.poll().points, [{ run: 'nano', step: 20, tag: 'loss', value: 3 }]);
  assert.deepEqual(reader.problems(), [{ file, corrupt: 2, truncated: false, stuck: false }]);

  // two logs in one folder are two runs; a file given alone is named by its folder
  fs.writeFileSync(path.join(run, 'eval.jsonl'), '{"step": 5, "val_loss": 2}\n');
  const both = new LogReader(dir);
  assert.deepEqual(
    both
      .poll()
      .points.map((p) => p.run)
      .filter((r, i, a) => a.indexOf(r) === i),
    ['nano/eval', 'nano/log'],
  );
  assert.deepEqual(new LogReader(path.join(run, 'eval.jsonl')).poll().points, [
    { run: 'nano', step: 5, tag: 'val_loss', value: 2 },
  ]);
  assert.deepEqual(new LogReader(path.join(dir, 'absent')).poll().points, [], 'not there yet');
});

test('llm-lens logs --json prints a line per point as {run, tag, step, value | text}', () => {
  const r = spawnSync(process.execPath, ['dist/cli.js', 'logs', '--json', FIXTURES], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const want = byRun(expected.records);
  const got = byRun(lines as unknown as LogPoint[]);
  for (const [run, points] of want)
    assert.deepEqual(
      got.get(run),
      points.map((p) => ({
        run: p.run,
        tag: p.tag,
        step: p.step,
        ...(p.text !== undefined ? { text: p.text } : { value: p.value }),
      })),
      run,
    );
  assert.match(r.stderr, /badlength\/events[^\n]*: 1 damaged record skipped; its framing is lost/);
  assert.match(r.stderr, /truncated\/events[^\n]*: it ends inside a record/);
  const none = spawnSync(process.execPath, ['dist/cli.js', 'logs', tmp()], { encoding: 'utf8' });
  assert.equal(none.status, 1);
  assert.match(
    none.stderr,
    /no logs in .*: give TensorBoard event files \(events\.out\.tfevents\.\*\) or JSONL logs/,
  );
});
