import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { MlpWeights } from '@vitrine/core/artifact';
import { seededRandom, shuffleInPlace } from '@vitrine/core/random';

export interface MlpConfig {
  hidden: number[];
  epochs: number;
  batchSize: number;
  learningRate: number;
  l2: number;
  seed: number;
}

export const DEFAULT_MLP: MlpConfig = { hidden: [8], epochs: 12, batchSize: 128, learningRate: 0.003, l2: 2e-3, seed: 42 };

export type { MlpWeights };

let backendReady: Promise<void> | undefined;
/** Training runs on tfjs's wasm backend in Node (tfjs-node needs native binaries we can't install). */
export function initBackend(): Promise<void> {
  backendReady ??= tf.setBackend('wasm').then((ok) => {
    if (!ok) throw new Error('tfjs wasm backend failed to initialise');
  });
  return backendReady;
}

function glorot(inputs: number, units: number, random: () => number): Float32Array {
  const limit = Math.sqrt(6 / (inputs + units));
  return Float32Array.from({ length: inputs * units }, () => (random() * 2 - 1) * limit);
}

/** Mini-batch Adam on binary cross-entropy with L2; deterministic for a given seed. */
export async function trainMlp(
  x: Float32Array,
  y: Float32Array,
  n: number,
  d: number,
  cfg: MlpConfig,
  onEpoch?: (epoch: number, loss: number) => void,
): Promise<MlpWeights> {
  await initBackend();
  const random = seededRandom(cfg.seed);
  const sizes = [d, ...cfg.hidden, 1];
  const vars = sizes.slice(1).map((units, i) => ({
    kernel: tf.variable(tf.tensor2d(glorot(sizes[i], units, random), [sizes[i], units])),
    bias: tf.variable(tf.zeros([units])),
  }));
  const optimizer = tf.train.adam(cfg.learningRate);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let epoch = 0; epoch < cfg.epochs; epoch++) {
    shuffleInPlace(order, random);
    let total = 0;
    for (let start = 0; start < n; start += cfg.batchSize) {
      const idx = order.slice(start, start + cfg.batchSize);
      const bx = new Float32Array(idx.length * d);
      const by = new Float32Array(idx.length);
      idx.forEach((r, i) => {
        bx.set(x.subarray(r * d, r * d + d), i * d);
        by[i] = y[r];
      });
      const loss = tf.tidy(() => {
        const xs = tf.tensor2d(bx, [idx.length, d]);
        const ys = tf.tensor2d(by, [idx.length, 1]);
        return optimizer.minimize(() => {
          let h: tf.Tensor = xs;
          vars.forEach((v, i) => {
            h = tf.add(tf.matMul(h, v.kernel), v.bias);
            if (i < vars.length - 1) h = tf.relu(h);
          });
          const bce = tf.losses.sigmoidCrossEntropy(ys, h);
          const reg = vars.reduce((s: tf.Scalar, v) => tf.add(s, tf.sum(tf.square(v.kernel))) as tf.Scalar, tf.scalar(0));
          return tf.add(bce, tf.mul(reg, cfg.l2)) as tf.Scalar;
        }, true)!;
      });
      total += (await loss.data())[0] * idx.length;
      loss.dispose();
    }
    onEpoch?.(epoch + 1, total / n);
  }
  const weights: MlpWeights = {
    layers: await Promise.all(
      vars.map(async (v, i) => ({
        kernel: (await v.kernel.data()) as Float32Array,
        bias: (await v.bias.data()) as Float32Array,
        inputs: sizes[i],
        units: sizes[i + 1],
        activation: (i < vars.length - 1 ? 'relu' : 'sigmoid') as 'relu' | 'sigmoid',
      })),
    ),
  };
  vars.forEach((v) => {
    v.kernel.dispose();
    v.bias.dispose();
  });
  optimizer.dispose();
  return weights;
}

/** Forward pass in float64 JS (independent of tfjs) for evaluation during training. */
export function predictMlp(w: MlpWeights, x: Float32Array, n: number): Float64Array {
  let act: ArrayLike<number> = x;
  let width = w.layers[0].inputs;
  for (const layer of w.layers) {
    const next = new Float64Array(n * layer.units);
    for (let r = 0; r < n; r++) {
      for (let u = 0; u < layer.units; u++) {
        let s = layer.bias[u];
        for (let i = 0; i < width; i++) s += act[r * width + i] * layer.kernel[i * layer.units + u];
        next[r * layer.units + u] = layer.activation === 'relu' ? Math.max(0, s) : 1 / (1 + Math.exp(-s));
      }
    }
    act = next;
    width = layer.units;
  }
  return act as Float64Array;
}

/**
 * Logit-averaging ensemble of one-hidden-layer MLPs, written as ONE wider MLP: hidden units are
 * concatenated and the output kernel is divided by K, so sigmoid(mean of logits) is computed
 * exactly by the SDK's ordinary forward pass.
 */
export function mergeEnsemble(members: MlpWeights[]): MlpWeights {
  if (members.length === 1) return members[0];
  if (members.some((m) => m.layers.length !== 2)) throw new Error('mergeEnsemble supports one hidden layer');
  const k = members.length;
  const inputs = members[0].layers[0].inputs;
  const hidden = members.map((m) => m.layers[0].units);
  const total = hidden.reduce((a, b) => a + b, 0);
  const kernel0 = new Float32Array(inputs * total);
  const bias0 = new Float32Array(total);
  const kernel1 = new Float32Array(total);
  let bias1 = 0;
  let off = 0;
  members.forEach((m, j) => {
    const h = hidden[j];
    for (let i = 0; i < inputs; i++) for (let u = 0; u < h; u++) kernel0[i * total + off + u] = m.layers[0].kernel[i * h + u];
    for (let u = 0; u < h; u++) {
      bias0[off + u] = m.layers[0].bias[u];
      kernel1[off + u] = m.layers[1].kernel[u] / k;
    }
    bias1 += m.layers[1].bias[0] / k;
    off += h;
  });
  return {
    layers: [
      { kernel: kernel0, bias: bias0, inputs, units: total, activation: 'relu' },
      { kernel: kernel1, bias: Float32Array.of(bias1), inputs: total, units: 1, activation: 'sigmoid' },
    ],
  };
}
