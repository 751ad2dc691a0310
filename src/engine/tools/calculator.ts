/**
 * The calculator tool: arithmetic with a parser of its own (no `eval`, nothing but numbers and
 * operators), exact on integers of any size, as a model's "mental math" is not.
 *
 *   await calculator.run('347 * 582', { timeoutMs: 1000 })   // { ok: true, output: '201954', ms: … }
 *   evaluate('2 ** 100')        // '1267650600228229401496703205376' (exact: BigInt)
 *   evaluate('(1 + 2) / 4')     // '0.75'
 *   evaluate('7 // 2, 7 % 2')   // refused: "unexpected ',' at 6"
 *   evaluate('1 / 0')           // throws CalcError 'division by zero'
 *
 * Grammar (Python's precedence; `^` is a power too, as people write it):
 *   expr   = term (('+' | '-') term)*
 *   term   = unary (('*' | '/' | '//' | '%') unary)*
 *   unary  = ('+' | '-') unary | power
 *   power  = atom (('**' | '^') unary)?          right-associative: 2 ** 3 ** 2 = 512; -2 ** 2 = -4
 *   atom   = number | '(' expr ')'
 *   number = digits with an optional fraction and exponent (1_000, 3.5, .5, 1e3); ',' is not a digit
 * Values are exact integers (BigInt) until a '/', a fraction, an exponent or a negative power makes them
 * floats; `//` and `%` floor as Python does. Results print as integers, or as floats with up to 12
 * significant digits (0.1 + 0.2 → 0.3). Limits: 500 characters of input, 60 levels of nesting,
 * integers of at most 1000 digits (2 ** 10000 is refused, not computed).
 */
import { toolError, type Tool, type ToolResult } from './tool';

export class CalcError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CalcError';
  }
}

type Value = bigint | number;

const MAX_INPUT = 500;
const MAX_DEPTH = 60;
const MAX_DIGITS = 1000;

const TOKEN = /\s*(?:(\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|(\*\*|\/\/|[-+*/%^()]))/y;

interface Tok {
  num?: string;
  op?: string;
  at: number;
}

function lex(src: string): Tok[] {
  const toks: Tok[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < src.length) {
    if (/^\s*$/.test(src.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(src);
    if (!m) {
      const where = at + (src.slice(at).length - src.slice(at).trimStart().length);
      throw new CalcError(`unexpected '${src[where]}' at ${where + 1}: use numbers, + - * / // % ** and ( )`);
    }
    const start = m.index + m[0].length - (m[1] ?? m[2]).length;
    toks.push(m[1] !== undefined ? { num: m[1], at: start } : { op: m[2], at: start });
    at = TOKEN.lastIndex;
  }
  return toks;
}

const isInt = (v: Value): v is bigint => typeof v === 'bigint';
const toFloat = (v: Value) => Number(v);

function checkSize(v: bigint): bigint {
  const digits = (v < 0n ? -v : v).toString().length;
  if (digits > MAX_DIGITS) throw new CalcError(`the result has more than ${MAX_DIGITS} digits`);
  return v;
}

function checkFloat(v: number): number {
  if (!Number.isFinite(v)) throw new CalcError('the result is too large for a float');
  return v;
}

function parseNumber(text: string): Value {
  const t = text.replace(/_/g, '');
  if (/^\d+$/.test(t)) return checkSize(BigInt(t));
  return checkFloat(Number(t));
}

/** Python's floor division and modulo on integers. */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** Python's float divmod (Objects/floatobject.c): fmod, then the floor's sign and rounding fixes. */
function floatDivmod(x: number, y: number): [number, number] {
  let mod = x % y;
  let div = (x - mod) / y;
  if (mod) {
    if (y < 0 !== mod < 0) {
      mod += y;
      div -= 1;
    }
  } else mod = y < 0 ? -0 : 0;
  let floor = Math.floor(div);
  if (div) {
    if (div - floor > 0.5) floor += 1;
  } else floor = x / y < 0 ? -0 : 0;
  return [floor, mod];
}

function binary(op: string, a: Value, b: Value): Value {
  const zero = isInt(b) ? b === 0n : b === 0;
  if (zero && (op === '/' || op === '//' || op === '%')) throw new CalcError('division by zero');
  if (isInt(a) && isInt(b)) {
    switch (op) {
      case '+':
        return checkSize(a + b);
      case '-':
        return checkSize(a - b);
      case '*':
        if ((a === 0n ? 1 : a.toString().length) + (b === 0n ? 1 : b.toString().length) > MAX_DIGITS + 2)
          throw new CalcError(`the result has more than ${MAX_DIGITS} digits`);
        return checkSize(a * b);
      case '//':
        return floorDiv(a, b);
      case '%':
        return a - b * floorDiv(a, b);
      case '**':
        if (b >= 0n) {
          const bits = a === 0n || a === 1n || a === -1n ? 0 : (a < 0n ? -a : a).toString(2).length;
          if (bits * Number(b) > MAX_DIGITS * 3.33)
            throw new CalcError(`the result has more than ${MAX_DIGITS} digits`);
          return checkSize(a ** b);
        }
    }
  }
  const [x, y] = [toFloat(a), toFloat(b)];
  switch (op) {
    case '+':
      return checkFloat(x + y);
    case '-':
      return checkFloat(x - y);
    case '*':
      return checkFloat(x * y);
    case '/':
      return checkFloat(x / y);
    case '//':
      return checkFloat(floatDivmod(x, y)[0]);
    case '%':
      return checkFloat(floatDivmod(x, y)[1]);
    default: {
      if (x === 0 && y < 0) throw new CalcError('0 cannot be raised to a negative power');
      const r = x ** y;
      if (Number.isNaN(r))
        throw new CalcError('a negative number to a fractional power is not a real number');
      return checkFloat(r);
    }
  }
}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly toks: Tok[]) {}

  parse(): Value {
    if (!this.toks.length) throw new CalcError('nothing to calculate');
    const v = this.expr();
    if (this.i < this.toks.length) throw this.unexpected();
    return v;
  }

  private peek = () => this.toks[this.i]?.op;

  private unexpected(): CalcError {
    const t = this.toks[this.i];
    if (!t) return new CalcError('the expression ends too early');
    return new CalcError(`unexpected '${t.num ?? t.op}' at ${t.at + 1}`);
  }

  private expr(): Value {
    let v = this.term();
    while (this.peek() === '+' || this.peek() === '-') v = binary(this.toks[this.i++].op!, v, this.term());
    return v;
  }

  private term(): Value {
    let v = this.unary();
    for (let op = this.peek(); op === '*' || op === '/' || op === '//' || op === '%'; op = this.peek()) {
      this.i++;
      v = binary(op, v, this.unary());
    }
    return v;
  }

  private unary(): Value {
    const op = this.peek();
    if (op === '+' || op === '-') {
      this.i++;
      this.enter();
      const v = this.unary();
      this.depth--;
      if (op === '+') return v;
      return -v;
    }
    return this.power();
  }

  private power(): Value {
    const base = this.atom();
    const op = this.peek();
    if (op !== '**' && op !== '^') return base;
    this.i++;
    this.enter();
    const exp = this.unary();
    this.depth--;
    return binary('**', base, exp);
  }

  private atom(): Value {
    const t = this.toks[this.i];
    if (t?.num !== undefined) {
      this.i++;
      return parseNumber(t.num);
    }
    if (t?.op === '(') {
      this.i++;
      this.enter();
      const v = this.expr();
      this.depth--;
      if (this.peek() !== ')') {
        if (this.i >= this.toks.length) throw new CalcError(`a '(' is not closed (at ${t.at + 1})`);
        throw this.unexpected();
      }
      this.i++;
      return v;
    }
    throw this.unexpected();
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw new CalcError(`more than ${MAX_DEPTH} levels of nesting`);
  }
}

/** A float as people write it: up to 12 significant digits, no trailing zeros, no "e" for ordinary sizes. */
export function formatNumber(v: Value): string {
  if (isInt(v)) return v.toString();
  if (Object.is(v, -0)) return '0';
  if (Number.isInteger(v) && Math.abs(v) < 1e21) return v.toFixed(0);
  const s = Number(v.toPrecision(12));
  return String(s);
}

/** The value of an arithmetic expression as text (see the file's header); throws CalcError. */
export function evaluate(src: string): string {
  if (src.length > MAX_INPUT) throw new CalcError(`the expression is longer than ${MAX_INPUT} characters`);
  return formatNumber(new Parser(lex(src)).parse());
}

export const calculator: Tool = {
  name: 'calculator',
  async run(input: string, o): Promise<ToolResult> {
    o.signal?.throwIfAborted();
    const t0 = performance.now();
    try {
      const output = evaluate(input.trim());
      return { ok: true, output, ms: performance.now() - t0 };
    } catch (e) {
      if (!(e instanceof CalcError)) throw e;
      return toolError(e.message, performance.now() - t0);
    }
  },
};
