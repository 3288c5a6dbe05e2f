/** Byte helpers written once for the SDK (WebCrypto), the server and training (node:crypto). */

/** Lowercase hex of the bytes. */
export function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/**
 * An ArrayBuffer holding exactly the view's bytes. Node's Buffers and PGlite's bytea values are
 * views into larger pools, so `.buffer` alone would hand out neighbouring bytes too.
 */
export function exactBuffer(view: ArrayBufferView): ArrayBuffer {
  return view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength) as ArrayBuffer;
}

/** Float32 values of a byte view (copied, so alignment never matters). */
export function float32sOf(view: ArrayBufferView): Float32Array {
  return new Float32Array(exactBuffer(view));
}
