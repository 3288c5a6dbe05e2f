import type { TensorEntry } from './manifest';

const BYTES: Record<TensorEntry['dtype'], number> = { float32: 4, float16: 2, uint8: 1, int8: 1 };

/** Decodes one tensor of a weight file into float32, applying its quantization parameters. */
export function dequantize(entry: TensorEntry, file: ArrayBuffer): Float32Array {
  const size = entry.shape.reduce((a, b) => a * b, 1);
  const byteLength = size * BYTES[entry.dtype];
  if (entry.offset + byteLength > file.byteLength) {
    throw new Error(`tensor ${entry.name} needs bytes ${entry.offset}..${entry.offset + byteLength} but the file has ${file.byteLength}`);
  }
  const out = new Float32Array(size);
  // Copy first: offsets in a packed file need not be aligned to the element size.
  const bytes = file.slice(entry.offset, entry.offset + byteLength);
  if (entry.dtype === 'float32') {
    out.set(new Float32Array(bytes));
    return out;
  }
  if (entry.dtype === 'float16') {
    const h = new Uint16Array(bytes);
    for (let i = 0; i < size; i++) out[i] = halfToFloat(h[i]);
    return out;
  }
  const q = entry.dtype === 'uint8' ? new Uint8Array(bytes) : new Int8Array(bytes);
  const quant = entry.quant;
  if (!quant) throw new Error(`tensor ${entry.name} is ${entry.dtype} but has no quantization parameters`);
  const channels = quant.axis === undefined ? 1 : entry.shape[quant.axis];
  const stride = quant.axis === undefined ? 1 : entry.shape.slice(quant.axis + 1).reduce((a, b) => a * b, 1);
  if (quant.scale.length !== channels) throw new Error(`tensor ${entry.name}: ${quant.scale.length} scales for ${channels} channels`);
  if (entry.dtype === 'uint8' && quant.min?.length !== channels)
    throw new Error(`tensor ${entry.name}: uint8 needs ${channels} min values`);
  for (let i = 0; i < size; i++) {
    const c = channels === 1 ? 0 : Math.floor(i / stride) % channels;
    out[i] = entry.dtype === 'uint8' ? quant.min![c] + q[i] * quant.scale[c] : q[i] * quant.scale[c];
  }
  return out;
}

/** IEEE 754 binary16 -> number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
