/**
 * The calculator tool against Python: 400 random expressions (test/fixtures/gen/calc_fixtures.py)
 * evaluated by Python's own parser give the reference values; integers must match digit for digit,
 * floats to 1e-9 relative. Then the limits and the error texts a model sees.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CalcError, calculator, evaluate } from '../../src/engine/tools/calculator';

interface Case {
  expr: string;
  value: string | number | null;
  error: string | null;
}
const cases = JSON.parse(readFileSync(join('test', 'fixtures', 'tools', 'calc.json'), 'utf8')) as Case[];

test('calculator: 400 random expressions equal Python', () => {
  assert.ok(cases.length >= 400);
  let ints = 0;
  for (const c of cases) {
    if (c.error) {
      assert.throws(() => evaluate(c.expr), /division by zero/, c.expr);
      continue;
    }
    const got = evaluate(c.expr);
    if (typeof c.value === 'string') {
      ints++;
      assert.equal(got, c.value, c.expr);
    } else {
      const want = c.value!;
      const tol = 1e-9 * Math.max(1, Math.abs(want));
      assert.ok(Math.abs(Number(got) - want) <= tol, `${c.expr}: got ${got}, Python ${want}`);
    }
  }
  assert.ok(ints > 100, `${ints} integer cases`);
});

test('calculator: exact big integers, precedence and Python floor semantics', () => {
  assert.equal(evaluate('347 * 582'), '201954');
  assert.equal(evaluate('2 ** 100'), '1267650600228229401496703205376');
  assert.equal(evaluate('2 ^ 10'), '1024');
  assert.equal(evaluate('2 ** 3 ** 2'), '512');
  assert.equal(evaluate('-2 ** 2'), '-4');
  assert.equal(evaluate('(1 + 2) / 4'), '0.75');
  assert.equal(evaluate('0.1 + 0.2'), '0.3');
  assert.equal(evaluate('-7 // 2'), '-4');
  assert.equal(evaluate('-7 % 3'), '2');
  assert.equal(evaluate('7 % -3'), '-2');
  assert.equal(evaluate('1_000 * 3'), '3000');
  assert.equal(evaluate('2 ** -1'), '0.5');
  assert.equal(evaluate('1e3 + .5'), '1000.5');
  assert.equal(evaluate('  12  '), '12');
});

test('calculator: bad input and limits give clear errors', () => {
  const err = (src: string) => {
    try {
      evaluate(src);
    } catch (e) {
      assert.ok(e instanceof CalcError, String(e));
      return e.message;
    }
    assert.fail(`${src} was accepted`);
  };
  assert.match(err('1 / 0'), /division by zero/);
  assert.match(err('5 % 0'), /division by zero/);
  assert.match(err(''), /nothing to calculate/);
  assert.match(err('2 +'), /ends too early/);
  assert.match(err('(1 + 2'), /'\(' is not closed/);
  assert.match(err('1 + 2)'), /unexpected '\)' at 6/);
  assert.match(err('import os'), /unexpected 'i' at 1/);
  assert.match(err('3 * x'), /unexpected 'x' at 5/);
  assert.match(err('2 ** 10000'), /more than 1000 digits/);
  assert.match(err('9 ** 9 ** 9'), /more than 1000 digits/);
  assert.match(err('1e308 * 10'), /too large/);
  assert.match(err('(-8) ** 0.5'), /not a real number/);
  assert.match(err('('.repeat(100) + '1' + ')'.repeat(100)), /levels of nesting/);
  assert.match(err('1+'.repeat(300) + '1'), /longer than 500/);
});

test('calculator tool: results and errors as the model sees them', async () => {
  assert.deepEqual(
    { ...(await calculator.run(' 347*582 \n', { timeoutMs: 1000 })), ms: 0 },
    { ok: true, output: '201954', ms: 0 },
  );
  const bad = await calculator.run('12 / (3 - 3)', { timeoutMs: 1000 });
  assert.deepEqual({ ok: bad.ok, output: bad.output }, { ok: false, output: 'Error: division by zero' });
  const abort = new AbortController();
  abort.abort(new Error('stopped'));
  await assert.rejects(calculator.run('1', { timeoutMs: 1000, signal: abort.signal }), /stopped/);
});
