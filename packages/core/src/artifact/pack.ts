import type { ModelManifest } from './manifest';
import type { QuantizedTensor } from './quantize';

/** Packs tensors into one file, 4-byte aligned so float32 views never straddle. */
export function pack(tensors: QuantizedTensor[]): { bin: Uint8Array; entries: ModelManifest['tensors'] } {
  const parts: Uint8Array[] = [];
  const entries: ModelManifest['tensors'] = [];
  let offset = 0;
  for (const t of tensors) {
    const pad = (4 - (offset % 4)) % 4;
    if (pad) {
      parts.push(new Uint8Array(pad));
      offset += pad;
    }
    entries.push({ name: t.name, file: 0, offset, shape: t.shape, dtype: t.dtype, ...(t.quant ? { quant: t.quant } : {}) });
    parts.push(t.bytes);
    offset += t.bytes.byteLength;
  }
  const bin = new Uint8Array(offset);
  let at = 0;
  for (const p of parts) {
    bin.set(p, at);
    at += p.byteLength;
  }
  return { bin, entries };
}
