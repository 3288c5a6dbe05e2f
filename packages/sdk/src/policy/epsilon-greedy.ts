/**
 * Epsilon-greedy over slates: with probability 1-epsilon the greedy order (by score, ties kept
 * in the shop's order), with probability epsilon a uniformly random permutation. The marginal
 * probability that item i lands at position k is then exact and cheap:
 *   P(i at k) = (1-epsilon) * [greedy puts i at k] + epsilon / n
 * which is what off-policy estimators need, logged per placed item.
 */
export interface SlateChoice {
  order: number[];
  propensities: number[];
  explored: boolean;
}

export function chooseSlate(scores: ArrayLike<number>, slots: number, epsilon: number, random: () => number): SlateChoice {
  const n = scores.length;
  const greedy = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  const explored = n > 1 && random() < epsilon;
  let order = greedy;
  if (explored) {
    order = greedy.slice();
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
  }
  const k = Math.min(slots, n);
  order = order.slice(0, k);
  const eps = n > 1 ? epsilon : 0;
  const propensities = order.map((item, pos) => (1 - eps) * (greedy[pos] === item ? 1 : 0) + eps / n);
  return { order, propensities, explored };
}
