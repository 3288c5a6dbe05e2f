/** Standard normal samples from a uniform source (Box-Muller); crypto-random by default. */
export function gaussian(random: () => number = cryptoRandom): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = random();
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

function cryptoRandom(): number {
  const b = new Uint32Array(2);
  globalThis.crypto.getRandomValues(b);
  return (b[0] * 2 ** 21 + (b[1] >>> 11)) / 2 ** 53;
}

/**
 * sfc32 seeded from 128 random bits: the noise of one batch is drawn from a seed stored with
 * the batch, so a batch sealed again after a crash carries the same noise, not a second
 * independent draw of it.
 */
export function seededUniform(seed: readonly number[]): () => number {
  let [a, b, c, d] = seed.map((x) => x >>> 0);
  return () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}
