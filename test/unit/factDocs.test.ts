/**
 * The made-up encyclopedia read from the outside: every question's answer is read back from the
 * documents' text (years by regex, names by a scan of every document), every question is answered by
 * the first passage the search tool returns for its query (in memory and over the written folder, all
 * items of both splits), names are unique, the split keeps entities whole, and nothing is ASCII-only
 * by accident.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { generateChatData } from '../../src/engine/chat/chatData';
import {
  FACT_PEOPLE,
  FACT_TOWNS,
  factDocuments,
  generateFactQuestions,
  slug,
  writeFactDocs,
  type FactQuestion,
} from '../../src/engine/tools/factDocs';
import { createSearchTool } from '../../src/engine/tools/search';

const root = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-facts-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
const T = { timeoutMs: 10_000 };
const docs = factDocuments();
const train = generateFactQuestions();
const heldout = generateFactQuestions({ split: 'heldout' });
const all = [...train, ...heldout];
const word = (s: string) => new RegExp(`\\b${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'g');
const count = (text: string, s: string) => (text.match(word(s)) ?? []).length;

test('the collection: fixed, unique names, ASCII, a few sentences each', () => {
  assert.equal(docs.length, FACT_PEOPLE + FACT_TOWNS);
  // pinned: models are trained on this text, so it must not change by accident
  assert.deepEqual(docs[0], {
    title: 'Marta Haldeido',
    text:
      'The chemist Marta Haldeido came from Quenesk. She was born in 1760. Marta Haldeido is best known for ' +
      'inventing the silent printing press. In later life she won the Brightwater Award. She kept a heron as a pet.',
  });
  assert.equal(new Set(docs.map((d) => d.title)).size, docs.length);
  for (const d of docs) {
    assert.match(d.title + d.text, /^[\x20-\x7e]+$/);
    const sentences = d.text.split(/(?<=\.) /).length;
    assert.ok(sentences >= 3 && sentences <= 5, `${d.title}: ${sentences} sentences`);
    // a person's surname or a town's name is in no other entity's name
    const own = d.title.split(' ').at(-1)!;
    assert.deepEqual(
      docs.filter((e) => e.title.split(' ').includes(own)).map((e) => e.title),
      [d.title],
    );
  }
  for (const q of all) assert.match(q.question + q.answer + q.query, /^[\x20-\x7e]+$/);
});

test('every answer is read back from the text, and only one reading is possible', () => {
  const byTitle = new Map(docs.map((d) => [d.title, d.text]));
  for (const q of all) {
    const inventor = !q.question.includes(q.key);
    if (inventor) {
      // "Who invented the X?": exactly one document mentions the X, and it is the answer's
      const holders = docs.filter((d) => d.text.includes(`the ${q.query}.`));
      assert.deepEqual(
        holders.map((d) => d.title),
        [q.answer],
        q.question,
      );
      assert.equal(q.answer, q.key);
      continue;
    }
    assert.equal(q.query, q.key);
    const text = byTitle.get(q.key)!;
    assert.ok(text, `no document titled ${q.key}`);
    const years = text.match(/\b\d{3,4}\b/g) ?? [];
    if (/^\d+$/.test(q.answer)) {
      assert.deepEqual(years, [q.answer], q.question); // one year in the document, the answer
      const verb = q.key.includes(' ') ? 'born' : 'founded'; // people have two names, towns one
      assert.equal(text.match(new RegExp(`${verb} in (?:the year )?(\\d{3,4})`))?.[1], q.answer, q.question);
    } else assert.equal(count(text, q.answer), 1, `${q.question} -> ${q.answer} in ${text}`);
  }
});

test('questions: the query is copied from the question, diverse phrasings, entities on one side', () => {
  for (const q of all) {
    assert.ok(q.question.includes(q.query), `${q.question} / ${q.query}`);
    assert.ok(q.query.split(' ').length <= 3);
  }
  const shapes = new Set(all.map((q) => q.question.replace(q.query, '{x}').replace(/\?$/, '')));
  assert.ok(shapes.size >= 60, `${shapes.size} phrasings`);
  const keys = (qs: FactQuestion[]) => new Set(qs.map((q) => q.key));
  const [k1, k2] = [keys(train), keys(heldout)];
  assert.deepEqual(
    [...k1].filter((k) => k2.has(k)),
    [],
  );
  assert.equal(k1.size + k2.size, docs.length); // every entity is on one side
  const share = k2.size / docs.length;
  assert.ok(share > 0.1 && share < 0.3, `held out ${share}`);
  // both kinds of entity are held out (towns are the names that are one word)
  assert.ok([...k2].some((k) => !k.includes(' ')) && [...k2].some((k) => k.includes(' ')));
  // with a count: different questions, facts repeating in new phrasings, same split
  const many = generateFactQuestions({ count: 1500, seed: 7 });
  assert.equal(new Set(many.map((q) => q.question)).size, 1500);
  for (const q of many) assert.ok(k1.has(q.key));
  assert.throws(
    () => generateFactQuestions({ split: 'heldout', count: 50_000 }),
    /only \d+ different fact questions/,
  );
});

test("no fact-doc person is one of the refusal task's unknown people", () => {
  const refusals = [
    ...generateChatData({ task: 'refusal', count: 2000 }),
    ...generateChatData({ task: 'refusal', count: 200, split: 'heldout' }),
  ].map((c) => c.messages[0].content);
  for (const d of docs) assert.ok(!refusals.some((r) => r.includes(d.title)), d.title);
});

/** Every item: the first hit is the entity's own passage and the output shows the answer. */
async function checkSearch(search: ReturnType<typeof createSearchTool>, source: (q: FactQuestion) => string) {
  for (const q of all) {
    const r = await search.run(q.query, T);
    const first = r.output.split('\n')[0];
    assert.ok(r.ok && first.startsWith(`${source(q)}:1: `), `${q.query}: ${r.output}`);
    assert.ok(count(first, q.answer) >= 1, `${q.question} -> ${q.answer}: ${r.output}`);
  }
}

test('search answers every question with its first hit (documents in memory)', async () => {
  assert.ok(all.length >= 700, `${all.length} items`);
  await checkSearch(createSearchTool({ documents: docs }), (q) => q.key);
});

test('search answers every question with its first hit (the written folder)', async () => {
  const dir = path.join(root, 'facts');
  const paths = await writeFactDocs(dir);
  assert.equal(paths.length, docs.length);
  const kinds = new Map(paths.map((p) => [p.split('/')[1].slice(0, -3), p]));
  assert.equal(kinds.get('marta-haldeido'), 'people/marta-haldeido.md');
  assert.equal(
    fs.readFileSync(path.join(dir, 'people/marta-haldeido.md'), 'utf8'),
    `# Marta Haldeido\n\n${docs[0].text}\n`,
  );
  await checkSearch(createSearchTool({ dir }), (q) => kinds.get(slug(q.key))!);
});
