/**
 * Checks on text before it is tokenized or trained on, shared by the CLI and the extension, each with a
 * message that says what to do:
 *
 *   textFromBytes(readFileSync('model.bin'), 'model.bin')  // throws: model.bin looks binary (it has NUL bytes) …
 */

/** Above this size the extension asks before reading; the CLI reads anything. */
export const LARGE_TEXT_BYTES = 50 * 1024 * 1024;

/** True when the first 8 kB hold a NUL byte, git's test for binary files. */
export function looksBinary(bytes: Uint8Array): boolean {
  return bytes.subarray(0, 8192).includes(0);
}

/** UTF-8 text of `bytes` (invalid sequences become U+FFFD); throws for binary data. */
export function textFromBytes(bytes: Uint8Array, name: string): string {
  if (looksBinary(bytes)) throw new Error(`${name} looks binary (it has NUL bytes); tokenizers read text`);
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
}
