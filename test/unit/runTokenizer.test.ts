/** The tokenizer of a run that starts from a checkpoint: the checkpoint's, or a refusal that names it. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { getEncoding } from '../../src/engine/tokenizer/builtin';
import { CharTokenizer } from '../../src/engine/tokenizer/charLevel';
import {
  checkDatasetTokenizer,
  checkpointRunTokenizer,
  sameVocabulary,
} from '../../src/engine/train/runTokenizer';

test("a built-in encoding resumes a checkpoint of the same vocabulary (tiktoken's r50k_base is gpt2), not of another", () => {
  assert.ok(sameVocabulary(getEncoding('gpt2'), getEncoding('r50k_base')));
  assert.ok(!sameVocabulary(getEncoding('gpt2'), getEncoding('p50k_base'))); // 50281 ids: 24 more, for runs of spaces
  // a Hugging Face GPT-2 folder: no tokenizer files beside the weights, config.json names none
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-runtok-'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', vocab_size: 50257 }));
  const data = path.join(dir, 'input.txt');
  fs.writeFileSync(data, 'hello world\n');
  const out = path.join(dir, 'tokenizer');
  assert.equal(checkpointRunTokenizer(dir, 'r50k_base', [data], out).tokenizer.name, 'r50k_base');
  assert.throws(
    () => checkpointRunTokenizer(dir, 'cl100k_base', [data], out),
    new RegExp(
      `${dir.replace(/\\/g, '\\\\')} was trained with the tokenizer gpt2 \\(50257 ids\\), and this run asks for cl100k_base \\(100277 ids\\).*--tokenizer gpt2`,
    ),
  );
});

test("a checkpoint's tokenizer with more ids than its config.json's vocab_size is named as not the model's", () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'llm-lens-runtok-'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', vocab_size: 2 }));
  fs.writeFileSync(path.join(dir, 'vocab.char.json'), new CharTokenizer('char', ['a', 'b', 'c']).toJson());
  const data = path.join(dir, 'input.txt');
  fs.writeFileSync(data, 'abc\n');
  const notTheModels = new RegExp(
    `vocab\\.char\\.json has 3 ids, more than the model's vocabulary \\("vocab_size": 2 in .*config\\.json\\): it is not the tokenizer the model was trained with`,
  );
  assert.throws(() => checkpointRunTokenizer(dir, 'char', [data], path.join(dir, 'tokenizer')), notTheModels);
  assert.throws(() => checkDatasetTokenizer('data', 'char:0123456789abcdef', dir), notTheModels);
});
