/**
 * TFRecord framing, read incrementally: each record is a little-endian uint64 length, the masked CRC-32C
 * of those 8 bytes, the data, and the masked CRC-32C of the data. `readRecords` takes the bytes of a file
 * from some offset and returns the whole records in them and the offset after the last one, so a reader
 * tailing a growing file asks again from there; a record cut short (a writer still writing) ends the read
 * without being counted, and is read whole next time.
 *
 *   const r = readRecords(bytes);              // { records: [Uint8Array…], next: 603, corrupt: 0, stuck: false }
 *   // later, with the file grown: readRecords(moreBytes) with moreBytes = the file from r.next on
 *
 * A record whose data CRC is wrong is skipped and counted (`corrupt`). A length whose CRC is wrong cannot
 * be trusted to find the next record: the read stops there for good (`stuck`), counted once.
 */
import { maskedCrc32c } from './crc32c';

export interface RecordRead {
  /** The data of each whole, intact record. */
  records: Uint8Array[];
  /** Offset (relative to the bytes given) after the last whole record read or skipped. */
  next: number;
  /** Records skipped for a wrong CRC. */
  corrupt: number;
  /** A length's CRC was wrong at `next`: nothing after it can be framed. */
  stuck: boolean;
  /** Bytes after `next` that do not make a whole record yet. */
  pending: number;
}

/** The largest record accepted (TensorBoard's own reader has no limit; a wrong length beyond this is corruption). */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

/** Reads the whole records in bytes (see the file's header). */
export function readRecords(bytes: Uint8Array): RecordRead {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  let at = 0;
  let corrupt = 0;
  while (bytes.length - at >= 12) {
    const lengthCrc = view.getUint32(at + 8, true);
    if (maskedCrc32c(bytes, at, at + 8) !== lengthCrc)
      return { records, next: at, corrupt: corrupt + 1, stuck: true, pending: bytes.length - at };
    const length = view.getBigUint64(at, true);
    if (length > BigInt(MAX_RECORD_BYTES))
      return { records, next: at, corrupt: corrupt + 1, stuck: true, pending: bytes.length - at };
    const n = Number(length);
    const end = at + 12 + n + 4;
    if (end > bytes.length) break; // not all written yet
    const data = bytes.subarray(at + 12, at + 12 + n);
    if (maskedCrc32c(data) === view.getUint32(at + 12 + n, true)) records.push(data);
    else corrupt++;
    at = end;
  }
  return { records, next: at, corrupt, stuck: false, pending: bytes.length - at };
}
