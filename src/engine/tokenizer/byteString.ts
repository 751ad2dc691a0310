/**
 * "Byte strings": JS strings whose char codes are bytes 0–255, the keys of rank maps (a Map lookup on a
 * string is far cheaper than on a joined array). UTF-8 in, byte string out:
 *
 *   utf8ByteString('hé')  // 'h\xC3\xA9'  (3 bytes)
 *   utf8ByteString('\uD800') // '\xEF\xBF\xBD' — a lone surrogate becomes U+FFFD, as TextEncoder does
 */

/** UTF-8 bytes of `s` as a byte string; ASCII strings are returned as they are. */
export function utf8ByteString(s: string): string {
  const n = s.length;
  let i = 0;
  while (i < n && s.charCodeAt(i) < 0x80) i++;
  if (i === n) return s;
  const codes: number[] = [];
  for (let k = 0; k < i; k++) codes.push(s.charCodeAt(k));
  for (; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) codes.push(c);
    else if (c < 0x800) codes.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const lo = i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
          i++;
          codes.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
          continue;
        }
        c = 0xfffd;
      }
      codes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
  }
  return fromCodes(codes);
}

/** A byte string from a list of byte values (chunked: spread/apply has an argument limit). */
export function fromCodes(codes: ArrayLike<number>): string {
  const CHUNK = 8192;
  if (codes.length <= CHUNK) return String.fromCharCode.apply(null, codes as number[]);
  let out = '';
  for (let i = 0; i < codes.length; i += CHUNK) {
    out += String.fromCharCode.apply(null, Array.prototype.slice.call(codes, i, i + CHUNK) as number[]);
  }
  return out;
}

export function byteStringToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function bytesToByteString(b: Uint8Array): string {
  return fromCodes(b);
}

/** Number of UTF-8 bytes of the UTF-16 code unit at `i` (4 for a surrogate pair's high half, 0 for its low half). */
export function utf8LengthAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c >= 0xd800 && c <= 0xdbff) {
    const lo = s.charCodeAt(i + 1);
    return lo >= 0xdc00 && lo <= 0xdfff ? 4 : 3;
  }
  if (c >= 0xdc00 && c <= 0xdfff) {
    const hi = i > 0 ? s.charCodeAt(i - 1) : 0;
    return hi >= 0xd800 && hi <= 0xdbff ? 0 : 3;
  }
  return 3;
}
