/**
 * The one error class of the checkpoint layer. Every problem with a file (not a safetensors file,
 * truncated, a bad header, a tensor that does not fit) is a CheckpointError with a `code` the host can
 * switch on and a message that says what is wrong and what to do.
 *
 *   try { await openSafetensors(path) } catch (e) {
 *     if (e instanceof CheckpointError && e.code === 'truncated') showReloadPrompt(e.message);
 *   }
 */

export type CheckpointErrorCode =
  | 'not-safetensors' // too small, the header length is absurd, or the header is not a JSON object
  | 'truncated' // the header or a tensor's data lies past the end of the file
  | 'header-too-large' // the header claims more than MAX_HEADER_BYTES
  | 'bad-header' // JSON is valid but a field has the wrong type or value
  | 'bad-tensor' // shape, dtype size and data_offsets disagree, or the shape overflows
  | 'overlap' // two tensors share bytes
  | 'unsupported-dtype' // asked to decode a dtype this reader lists but cannot decode
  | 'not-found' // no tensor of that name
  | 'out-of-range' // an element range outside the tensor
  | 'shape-mismatch' // compare/relative change of tensors with different shapes
  | 'changed-on-disk' // the file's size changed since it was opened
  | 'bad-input' // a writer or stats argument is wrong (caller's bug, not the file's)
  | 'aborted'; // the AbortSignal fired

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(
    readonly code: CheckpointErrorCode,
    message: string,
    /** The file the error is about, when known. */
    readonly file?: string,
  ) {
    super(file ? `${file}: ${message}` : message);
  }
}

/** Throws CheckpointError('aborted') when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CheckpointError('aborted', 'stopped: the operation was cancelled');
}
