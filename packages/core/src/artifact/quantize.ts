import { halfToFloat } from './dequantize';
import type { MlpWeights } from './mlp-weights';

export type QuantizationScheme = 'uint8-per-channel' | 'float16' | 'float32';

export interface QuantizedTensor {
  name: string;
  shape: number[];
  dtype: 'uint8' | 'float16' | 'float32';
  bytes: Uint8Array;
  quant?: { axis: number; scale: number[]; min: number[] };
}

/**
 * Kernels: uint8 affine per output channel (w = min + q * scale, q in 0..255); biases stay
 * float32 (a few hundred bytes). Returns the tensors and the dequantized weights, so the
 * quantization loss can be measured on exactly what the browser will compute with.
 */
export function quantizeMlp(w: MlpWeights, scheme: QuantizationScheme): { tensors: QuantizedTensor[]; dequantized: MlpWeights } {
  const tensors: QuantizedTensor[] = [];
  const dequantized: MlpWeights = { layers: [] };
  w.layers.forEach((layer, l) => {
    const shape = [layer.inputs, layer.units];
    let kernel: Float32Array;
    if (scheme === 'uint8-per-channel') {
      const q = new Uint8Array(layer.kernel.length);
      const scale: number[] = [];
      const min: number[] = [];
      kernel = new Float32Array(layer.kernel.length);
      for (let u = 0; u < layer.units; u++) {
        let lo = Infinity;
        let hi = -Infinity;
        for (let i = 0; i < layer.inputs; i++) {
          const v = layer.kernel[i * layer.units + u];
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
        // Rounded to 8 significant digits first (a compact manifest), then used for both
        // quantizing and the dequantized copy: the browser computes with exactly these values.
        const s = short(hi > lo ? (hi - lo) / 255 : 1);
        lo = short(lo);
        scale.push(s);
        min.push(lo);
        for (let i = 0; i < layer.inputs; i++) {
          const k = i * layer.units + u;
          q[k] = Math.min(255, Math.max(0, Math.round((layer.kernel[k] - lo) / s)));
          kernel[k] = lo + q[k] * s;
        }
      }
      tensors.push({ name: `layers.${l}.kernel`, shape, dtype: 'uint8', bytes: q, quant: { axis: 1, scale, min } });
    } else if (scheme === 'float16') {
      const h = new Uint16Array(layer.kernel.length);
      kernel = new Float32Array(layer.kernel.length);
      for (let i = 0; i < h.length; i++) {
        h[i] = floatToHalf(layer.kernel[i]);
        kernel[i] = halfToFloat(h[i]);
      }
      tensors.push({ name: `layers.${l}.kernel`, shape, dtype: 'float16', bytes: new Uint8Array(h.buffer) });
    } else {
      kernel = Float32Array.from(layer.kernel);
      tensors.push({ name: `layers.${l}.kernel`, shape, dtype: 'float32', bytes: new Uint8Array(kernel.slice().buffer) });
    }
    tensors.push({
      name: `layers.${l}.bias`,
      shape: [layer.units],
      dtype: 'float32',
      bytes: new Uint8Array(Float32Array.from(layer.bias).buffer),
    });
    dequantized.layers.push({ ...layer, kernel, bias: Float32Array.from(layer.bias) });
  });
  return { tensors, dequantized };
}

function short(x: number): number {
  return Number(x.toPrecision(8));
}

function floatToHalf(v: number): number {
  const f32 = new Float32Array([v]);
  const u32 = new Uint32Array(f32.buffer)[0];
  const sign = (u32 >> 16) & 0x8000;
  const exp = ((u32 >> 23) & 0xff) - 127 + 15;
  let frac = u32 & 0x7fffff;
  if (exp <= 0) {
    if (exp < -10) return sign;
    frac = (frac | 0x800000) >> (1 - exp);
    return sign | ((frac + 0x1000) >> 13);
  }
  if (exp >= 31) return sign | 0x7c00;
  const half = sign | (exp << 10) | (frac >> 13);
  return frac & 0x1000 ? half + 1 : half; // round half up on the dropped bits
}
