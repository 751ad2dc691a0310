/**
 * CRC-32C (Castagnoli), as TFRecord files checksum their lengths and records, and its mask (TensorFlow's
 * crc32c::Mask: rotate right by 15 and add a constant, so that a CRC of data holding CRCs stays strong).
 *
 *   crc32c(Buffer.from('123456789'))        // 0xe3069283, the standard check value
 *   maskedCrc32c(bytes) === buf.readUInt32LE(at)
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of bytes[start, end). */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TensorFlow's masked CRC-32C of bytes[start, end). */
export function maskedCrc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  const c = crc32c(bytes, start, end);
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}
