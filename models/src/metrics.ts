/** ROC AUC with average ranks for ties (Mann-Whitney U). */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1]] === scores[idx[i]]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++)
      if (labels[idx[k]] === 1) {
        pos++;
        rankSum += avgRank;
      }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

export function logloss(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < scores.length; i++) {
    const p = Math.min(1 - 1e-7, Math.max(1e-7, scores[i]));
    s -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return s / scores.length;
}

/**
 * Positions of the items in ranked order: highest score first; equal scores keep their input
 * order (a stable sort), so a tie never depends on the sort implementation.
 */
export function rankOrder(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
}

/** DCG@k of relevances already in ranked order: Σ_{i<k} rel_i / log2(i + 2) (linear gain). */
export function dcgAtK(relevances: ArrayLike<number>, k: number): number {
  let s = 0;
  for (let i = 0; i < Math.min(k, relevances.length); i++) s += relevances[i] / Math.log2(i + 2);
  return s;
}

/**
 * NDCG@k of one list ranked by `scores`: its DCG@k over the DCG@k of the ideal order
 * (relevances sorted descending). k beyond the list's length counts the whole list. NaN when
 * the list has no relevant item (the ideal DCG is 0).
 */
export function ndcgAtK(scores: ArrayLike<number>, relevances: ArrayLike<number>, k: number): number {
  const ranked = rankOrder(scores).map((i) => relevances[i]);
  const ideal = Array.from(relevances).sort((a, b) => b - a);
  const idcg = dcgAtK(ideal, k);
  return idcg > 0 ? dcgAtK(ranked, k) / idcg : NaN;
}

/** Hit rate@k of one list: 1 when a relevant item (relevance > 0) is among the top k, else 0. */
export function hitAtK(scores: ArrayLike<number>, relevances: ArrayLike<number>, k: number): number {
  return rankOrder(scores)
    .slice(0, k)
    .some((i) => relevances[i] > 0)
    ? 1
    : 0;
}

export interface RankingList {
  scores: ArrayLike<number>;
  labels: ArrayLike<number>;
}

export interface RankingSummary {
  /** Lists averaged over: at least 2 items and at least one relevant item. */
  lists: number;
  skipped_single: number;
  skipped_no_positive: number;
  /** Of the lists used, those where every item is relevant (any order scores 1 there). */
  all_positive: number;
  k: number[];
  ndcg: Record<string, number>;
  hit_rate: Record<string, number>;
}

/**
 * Mean NDCG@k and hit rate@k over lists; lists with fewer than 2 items or no relevant item
 * are skipped and counted (a 1-item list or a list without a positive ranks nothing).
 */
export function rankingMetrics(lists: RankingList[], ks: number[]): RankingSummary {
  const used = lists.filter((l) => l.labels.length >= 2 && Array.from(l.labels).some((y) => y > 0));
  const out: RankingSummary = {
    lists: used.length,
    skipped_single: lists.filter((l) => l.labels.length < 2).length,
    skipped_no_positive: lists.filter((l) => l.labels.length >= 2 && !Array.from(l.labels).some((y) => y > 0)).length,
    all_positive: used.filter((l) => Array.from(l.labels).every((y) => y > 0)).length,
    k: ks,
    ndcg: {},
    hit_rate: {},
  };
  for (const k of ks) {
    let n = 0;
    let h = 0;
    for (const l of used) {
      n += ndcgAtK(l.scores, l.labels, k);
      h += hitAtK(l.scores, l.labels, k);
    }
    out.ndcg[k] = used.length ? n / used.length : NaN;
    out.hit_rate[k] = used.length ? h / used.length : NaN;
  }
  return out;
}
