/**
 * Probe Knowledge… off the editor: the checks of its input (questions files, settings) against values
 * written out by hand; its worker job, through the real worker thread, against probeKnowledge called
 * directly, and cancelled half way (it stops: the job fails soon after, with no progress after); the
 * report page (totals counted here, escaping, CSP); and llm-lens eval-refusal on a tiny random model whose
 * vocabulary has an "I don't know" token, its shares checked by counting the printed samples by brute force.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { probeKnowledge } from '../../src/engine/chat/probe';
import { parseProbeQuestions, probeSettingsError } from '../../src/engine/chat/probeInput';
import { CharTokenizer } from '../../src/engine/tokenizer/charLevel';
import { huggingFaceTokenizerFromJson } from '../../src/engine/tokenizer/huggingface';
import { loadCheckpoint } from '../../src/engine/train/checkpoint';
import { loadModelTokenizer } from '../../src/engine/train/runTokenizer';
import { fineTuneUri, probeReportHtml } from '../../src/host/probe/probeReport';
import type { ProbeResultMessage } from '../../src/protocol/probe';
import { WorkerClient } from '../../src/worker/client';
import { CHAT_CHARS, chatCheckpoint } from '../fixtures/chat/chatCheckpoint';

const root = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-probe-'));
const QUESTIONS = [
  { question: 'Who is Zorbin Quellfast?' },
  { question: 'Where was Marta Vel born?' },
  { question: 'What is two plus two?', answer: 'four' },
];

test('questions files and settings are checked, and the errors name the file, line and fix', () => {
  const text = [
    '{"question": "Who is Zorbin?"}',
    '',
    '{"question": "Two plus two?", "answer": "four"}',
    '{"messages": [{"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris."}]}',
  ].join('\n');
  assert.deepEqual(parseProbeQuestions(text, 'q.jsonl'), [
    { question: 'Who is Zorbin?' },
    { question: 'Two plus two?', answer: 'four' },
    { question: 'Capital of France?', answer: 'Paris.' },
  ]);
  assert.throws(
    () => parseProbeQuestions('{"question": "a"}\n{"q": 1}\n', 'q.jsonl'),
    /^Error: q\.jsonl:2: expected \{"question"/,
  );
  assert.throws(
    () => parseProbeQuestions('{"question": "a"}\nnope\n', 'q.jsonl'),
    /q\.jsonl:2: not valid JSON/,
  );
  assert.throws(
    () => parseProbeQuestions('{"question": "a", "answer": 4}', 'q.jsonl'),
    /q\.jsonl:1: expected/,
  );
  assert.throws(() => parseProbeQuestions('\n\n', 'empty.jsonl'), /empty\.jsonl: no questions/);
  const ok: [string, string][] = [
    ['samples', '8'],
    ['samples', '2'],
    ['samples', '1000'],
    ['temperature', '0'],
    ['temperature', '1.5'],
    ['threshold', '0.5'],
    ['threshold', '1'],
  ];
  for (const [name, v] of ok)
    assert.equal(probeSettingsError(name as 'samples', v), undefined, `${name} ${v}`);
  const bad: [string, string][] = [
    ['samples', '1'],
    ['samples', '2.5'],
    ['samples', ''],
    ['samples', '1001'],
    ['temperature', '-0.1'],
    ['temperature', 'hot'],
    ['temperature', '11'],
    ['threshold', '0'],
    ['threshold', '1.2'],
  ];
  for (const [name, v] of bad)
    assert.match(
      probeSettingsError(name as 'samples', v) ?? '',
      new RegExp(`^${name} must be .* from`),
      `${name} ${v}`,
    );
});

test('the worker job gives what probeKnowledge gives, with progress per question', async () => {
  const dir = await chatCheckpoint(root, { chatTokens: true, name: 'job', blockSize: 128 });
  const client = new WorkerClient(path.resolve('dist/worker.js'));
  try {
    const progress: [string, number | undefined][] = [];
    const o = { samples: 4, temperature: 1, threshold: 0.5, maxTokens: 12, seed: 5 };
    const r = await client.run(
      { kind: 'probe', checkpoint: dir, questions: QUESTIONS, ...o },
      { onProgress: (m, f) => progress.push([m, f]) },
    );
    const ckpt = await loadCheckpoint(dir);
    const want = await probeKnowledge(ckpt, loadModelTokenizer(ckpt), QUESTIONS, o);
    assert.deepEqual(r.results, want);
    assert.deepEqual(progress, [
      ['0/3 questions', 0],
      ['1/3 questions', 1 / 3],
      ['2/3 questions', 2 / 3],
      ['3/3 questions', 1],
    ]);
    for (const x of r.results) {
      assert.equal(x.answers.length, 4);
      assert.equal(
        x.groups.reduce((a, g) => a + g.count, 0),
        4,
      );
    }
    // a question the vocabulary cannot encode fails before any question is sampled
    const early: string[] = [];
    await assert.rejects(
      client.run(
        { kind: 'probe', checkpoint: dir, questions: [QUESTIONS[0], { question: 'Who is 007?' }], ...o },
        { onProgress: (m) => early.push(m) },
      ),
      /question 2 \("Who is 007\?"\): .*"0" .* not in the vocabulary/,
    );
    assert.deepEqual(early, ['0/2 questions']);
    // bad settings are refused before the checkpoint is read
    await assert.rejects(
      client.run({ kind: 'probe', checkpoint: '/nowhere', questions: QUESTIONS, ...o, samples: 1 }),
      /samples must be an integer from 2/,
    );
  } finally {
    await client.dispose();
  }
});

test('cancelling the worker job stops the sampling', async () => {
  const dir = await chatCheckpoint(root, { chatTokens: true, name: 'cancel', blockSize: 256 });
  const client = new WorkerClient(path.resolve('dist/worker.js'));
  try {
    const name = (i: number) => String.fromCharCode(65 + (i % 26), 97 + Math.floor(i / 26));
    const questions = Array.from({ length: 200 }, (_, i) => ({ question: `Who is ${name(i)}?` }));
    const abort = new AbortController();
    const after: string[] = [];
    let aborted = false;
    const t0 = Date.now();
    const job = client.run(
      {
        kind: 'probe',
        checkpoint: dir,
        questions,
        samples: 8,
        temperature: 1,
        threshold: 0.5,
        maxTokens: 200,
      },
      {
        signal: abort.signal,
        onProgress: (m) => {
          if (aborted) after.push(m);
          else if (m === '1/200 questions') {
            aborted = true;
            abort.abort();
          }
        },
      },
    );
    await assert.rejects(job, /abort/i);
    const ms = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(after, [], 'no question finished after the cancel');
    // 200 questions × 8 answers take minutes; the job ended right after the first question
    assert.ok(ms < 20_000, `${ms} ms`);
  } finally {
    await client.dispose();
  }
});

test('the report page: a table per question, totals, escaped text, no scripts', () => {
  const results: ProbeResultMessage[] = [
    {
      question: 'Who is <Zorbin>?',
      answers: ['A <b>painter</b>.', 'A king.', 'A king!'],
      groups: [
        { answer: 'A king.', key: 'a king', count: 2 },
        { answer: 'A <b>painter</b>.', key: 'a b painter b', count: 1 },
      ],
      agreement: 2 / 3,
      verdict: 'knows',
    },
    { question: 'Q2', answers: ['x', 'y'], groups: [], agreement: 0.5, verdict: 'unsure' },
    { question: 'Q3', answers: ['x', 'y'], groups: [], agreement: 0.5, verdict: 'unsure' },
    { question: 'Q4', answer: 'z', answers: ['x', 'x'], groups: [], agreement: 1, verdict: 'wrong' },
  ];
  const html = probeReportHtml(
    {
      checkpoint: '/ws/runs/chat/checkpoints/step-5',
      source: 'q.jsonl',
      samples: 3,
      temperature: 1,
      threshold: 0.5,
      results,
      sftFile: '/ws/.llmlens/data/p.jsonl',
      conversations: 3,
    },
    { cspSource: 'vscode-resource:', css: 'vscode-resource:/media/webview.css', nonce: 'N0nce' },
  );
  assert.equal(html.match(/<section class="question"/g)?.length, 4);
  assert.match(html, /data-count="1">1 known<\/b>/);
  assert.match(html, /data-count="1">1 wrong<\/b>/);
  assert.match(html, /data-count="2">2 unsure<\/b>/);
  assert.match(html, /Who is &#60;Zorbin&#62;\?/);
  assert.match(html, /<td class="answer">A &#60;b&#62;painter&#60;\/b&#62;\.<\/td><td class="count">1<\/td>/);
  assert.ok(!/<b>painter/.test(html) && !/<script/i.test(html));
  assert.match(html, /content="default-src 'none'; style-src vscode-resource: 'nonce-N0nce'/);
  assert.match(html, /value="0.6666666666666666"><\/meter>\n<span class="agreement">67%<\/span>/);
  const uri = fineTuneUri('/ws/ck', '/ws/d.jsonl');
  assert.deepEqual(JSON.parse(decodeURIComponent(uri.slice('command:llmLens.fineTune?'.length))), [
    '/ws/ck',
    { data: '/ws/d.jsonl' },
  ]);
});

/** The characters plus " I don't know. " as one (non-special) token: a random model sometimes refuses. */
function refusingTokenizer() {
  const json = JSON.parse(new CharTokenizer('char', CHAT_CHARS).toHuggingFaceJson()) as Record<
    string,
    unknown
  >;
  json.added_tokens = [
    { id: CHAT_CHARS.length, content: " I don't know. ", single_word: false, lstrip: false, rstrip: false },
  ].map((t) => ({ ...t, normalized: false, special: false }));
  return huggingFaceTokenizerFromJson(JSON.stringify(json), 'refusing');
}

test('eval-refusal: made_up and answered_known are the shares of sampled answers that do not refuse', async () => {
  const tokenizer = refusingTokenizer();
  assert.equal(tokenizer.decode([CHAT_CHARS.length]), " I don't know. ");
  const dir = await chatCheckpoint(root, { chatTokens: false, tokenizer, name: 'refusing', blockSize: 128 });
  const unknown = path.join(root, 'unknown.jsonl');
  const known = path.join(root, 'known.jsonl');
  fs.writeFileSync(
    unknown,
    QUESTIONS.slice(0, 2)
      .map((q) => JSON.stringify(q))
      .join('\n') + '\n',
  );
  fs.writeFileSync(known, JSON.stringify(QUESTIONS[2]) + '\n');
  const args = ['--checkpoint', dir, '--unknown', unknown, '--known', known, '--samples', '10'];
  const r = spawnSync(
    process.execPath,
    [path.resolve('dist/cli.js'), 'eval-refusal', ...args, '--max-tokens', '24', '--json'],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const rows = lines
    .slice(0, -1)
    .map((l) => JSON.parse(l) as { set: string; question: string; answers: string[] });
  assert.deepEqual(
    rows.map((x) => [x.set, x.question, x.answers.length]),
    [
      ['unknown', QUESTIONS[0].question, 10],
      ['unknown', QUESTIONS[1].question, 10],
      ['known', QUESTIONS[2].question, 10],
    ],
  );
  // brute force: an answer refuses when it holds "I don't know" as words (no letter or digit beside it)
  const word = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_]/.test(c);
  const refusing = (a: string) => {
    for (let i = a.indexOf("I don't know"); i >= 0; i = a.indexOf("I don't know", i + 1))
      if (!word(a[i - 1]) && !word(a[i + 12])) return true;
    return false;
  };
  const share = (set: string) => {
    const all = rows.filter((x) => x.set === set).flatMap((x) => x.answers);
    return all.filter((a) => !refusing(a)).length / all.length;
  };
  const madeUp = share('unknown');
  const answered = share('known');
  assert.ok(madeUp > 0 && madeUp < 1, `made_up ${madeUp}: some answers refuse, some do not`);
  assert.equal(lines.at(-1), `made_up ${madeUp.toFixed(2)} answered_known ${answered.toFixed(2)}`);
  // without --json only the summary line, the same numbers
  const plain = spawnSync(
    process.execPath,
    [path.resolve('dist/cli.js'), 'eval-refusal', ...args, '--max-tokens', '24'],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(plain.stdout, `${lines.at(-1)}\n`);
  const bad = spawnSync(
    process.execPath,
    [path.resolve('dist/cli.js'), 'eval-refusal', '--checkpoint', dir, '--known', known],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--unknown FILE\.jsonl or --task refusal/);
});
