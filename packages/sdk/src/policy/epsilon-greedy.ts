/**
 * Epsilon-greedy over slates: with probability 1-epsilon the greedy order (by score, ties kept
 * in the shop's order), with probability epsilon a uniformly random permutation. The marginal
 * probability that item i lands at position k is then exact and cheap:
 *   P(i at k) = (1-epsilon) * [greedy puts i at k] + epsilon / n
 * which is what off-policy estimators need, logged per placed item.
 */
export interface SlateChoice {
  order: number[];
  /** The greedy order's first k (what `order` is unless the policy explored). */
  greedy: number[];
  propensities: number[];
  explored: boolean;
}

export function chooseSlate(scores: ArrayLike<number>, slots: number, epsilon: number, random: () => number): SlateChoice {
  const n = scores.length;
  const k = Math.min(slots, n);
  const greedy = topK(scores, k);
  const explored = n > 1 && random() < epsilon;
  let order = greedy;
  if (explored) {
    // The first k places of a uniformly random permutation: k draws, not n.
    const perm = new Int32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    order = new Array<number>(k);
    for (let i = 0; i < k; i++) {
      // min(): a caller-supplied random() that returns 1 must not step past the end.
      const j = Math.min(n - 1, i + Math.floor(random() * (n - i)));
      const item = perm[j];
      perm[j] = perm[i];
      perm[i] = item;
      order[i] = item;
    }
  }
  const eps = n > 1 ? epsilon : 0;
  const propensities = order.map((item, pos) => (1 - eps) * (greedy[pos] === item ? 1 : 0) + eps / n);
  return { order, greedy, propensities, explored };
}

/** Candidates are at most 2^17 (the API allows 100,000): index bits of a sort key. */
const INDEX_BITS = 131072;
/** Up to this many slots, one pass keeps the best k in a small sorted list; beyond, a full sort. */
const SMALL_K = 32;

/**
 * The k best candidates by score, best first, ties in the shop's order. Each candidate becomes one
 * number that sorts the same way (score's float32 bits made monotonic, then the index), so the
 * sort compares plain numbers instead of calling a comparator.
 */
export function topK(scores: ArrayLike<number>, k: number): number[] {
  const n = scores.length;
  const f32 = scores instanceof Float32Array ? scores : Float32Array.from(scores);
  const bits = new Uint32Array(f32.buffer, f32.byteOffset, n);
  const keyOf = (i: number) => {
    let u = bits[i];
    if (u === 0x80000000) u = 0; // -0 ranks with +0
    // Monotonic in the score: negative floats flip all bits, positive ones flip the sign bit.
    const ascending = u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
    return (0xffffffff - ascending) * INDEX_BITS + i;
  };
  if (k <= SMALL_K && k < n) {
    const best = new Float64Array(k).fill(Infinity);
    for (let i = 0; i < n; i++) {
      const key = keyOf(i);
      if (key >= best[k - 1]) continue;
      let at = k - 1;
      while (at > 0 && best[at - 1] > key) {
        best[at] = best[at - 1];
        at--;
      }
      best[at] = key;
    }
    return Array.from(best, (key) => key % INDEX_BITS);
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = keyOf(i);
  keys.sort();
  const out = new Array<number>(k);
  for (let i = 0; i < k; i++) out[i] = keys[i] % INDEX_BITS;
  return out;
}
