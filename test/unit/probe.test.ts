/**
 * Probing knowledge: the grouping and verdict rule on answers written out by hand, the SFT data it
 * writes, and the probe on a real (random, tiny) chat model: greedy answers are all the same answer,
 * so agreement is 1; at a high temperature a random model's answers scatter, and agreement is low.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  judge,
  normaliseAnswer,
  probeConversations,
  probeKnowledge,
  refuses,
} from '../../src/engine/chat/probe';
import { chatConfig, chatTokenizer, randomWeights } from '../fixtures/chat/chatCheckpoint';

test('answers are grouped after normalising, and the verdict follows the largest group', () => {
  assert.equal(normaliseAnswer('  Marta was born in 1760! She was a chemist.'), 'marta was born in 1760');
  assert.equal(normaliseAnswer('He lives in Vel-Ora, by the river'), 'he lives in vel ora by the river');
  const answers = ['Born in 1760.', 'born in 1760!', 'In 1801.', 'Born in 1760', 'in 1801', 'No idea.'];
  const r = judge({ question: 'When?', answer: '1760' }, answers, 0.5);
  assert.deepEqual(
    r.groups.map((g) => [g.key, g.count]),
    [
      ['born in 1760', 3],
      ['in 1801', 2],
      ['no idea', 1],
    ],
  );
  assert.equal(r.agreement, 0.5);
  assert.equal(r.verdict, 'knows');
  assert.equal(judge({ question: 'When?', answer: '1801' }, answers, 0.5).verdict, 'wrong');
  assert.equal(judge({ question: 'When?', answer: '1760' }, answers, 0.6).verdict, 'unsure');
  assert.equal(judge({ question: 'Who?' }, ['A.', 'B.', 'C.', 'A.'], 0.5).verdict, 'knows');
  assert.equal(judge({ question: 'Who?' }, ['A.', 'B.', 'C.', 'D.'], 0.5).verdict, 'unsure');
});

test('the probe writes refusals for unsure questions, and keeps what the model knows', () => {
  const results = [
    judge({ question: 'Who is Zorbin Quellfast?' }, ['A painter.', 'A king.', 'A dog.', 'A river.']),
    judge({ question: 'When was Marta born?', answer: '1760' }, ['In 1760.', 'In 1760.', 'In 1761.']),
    judge({ question: 'Where is Vel?', answer: 'north' }, ['South.', 'South.', 'South.']),
    judge({ question: 'What is Vel?' }, ['A town.', 'A town.', 'A town.']),
  ];
  assert.deepEqual(
    results.map((r) => r.verdict),
    ['unsure', 'knows', 'wrong', 'knows'],
  );
  const convs = probeConversations(results, { seed: 3 });
  assert.deepEqual(
    convs.map((c) => c.messages[0].content),
    results.map((r) => r.question),
  );
  assert.ok(refuses(convs[0].messages[1].content), convs[0].messages[1].content);
  assert.equal(convs[1].messages[1].content, 'In 1760.');
  assert.equal(convs[2].messages[1].content, 'north');
  assert.equal(convs[3].messages[1].content, 'A town.');
  assert.ok(!refuses('In 1760.'));
  assert.ok(refuses("Sorry, I don't know."));
});

test('on a real model: greedy answers agree fully; hot answers of a random model scatter', async () => {
  const tok = chatTokenizer(true);
  const model = { config: chatConfig(true), weights: randomWeights(chatConfig(true)) };
  const qs = [{ question: 'Who is Zorbin?' }, { question: 'Where is Vel?' }];
  const greedy = await probeKnowledge(model, tok, qs, { samples: 4, temperature: 0, maxTokens: 12 });
  for (const r of greedy) {
    assert.equal(r.answers.length, 4);
    assert.equal(new Set(r.answers).size, 1);
    assert.equal(r.agreement, 1);
    assert.equal(r.verdict, 'knows');
  }
  const hot = await probeKnowledge(model, tok, qs, { samples: 6, temperature: 5, maxTokens: 12, seed: 9 });
  for (const r of hot) {
    assert.equal(new Set(r.answers).size, 6, r.answers.join(' | '));
    assert.ok(r.agreement < 0.5);
    assert.equal(r.verdict, 'unsure');
  }
  await assert.rejects(probeKnowledge(model, tok, qs, { samples: 1 }), /samples must be an integer ≥ 2/);
});
