import type { PrivacyReport } from '@vitrine/sdk';
import { local } from './store';

/** One reading of the privacy budget spent: when, and ε spent in the current window. */
export interface EpsilonPoint {
  at: number;
  epsilon: number;
}

const KEY = 'vitrine-demo-epsilon';
const MAX_POINTS = 200;

/**
 * ε spent over time, as this shop read it from privacyReport() (the report gives the total in the
 * window; the shop keeps the readings where it changed). Kept only while the shopper sends signals;
 * erased by "Forget me" and by consent 'none'.
 */
export function readEpsilonLog(): EpsilonPoint[] {
  try {
    const parsed: unknown = JSON.parse(local.get(KEY) ?? '[]');
    return Array.isArray(parsed)
      ? parsed.filter((p): p is EpsilonPoint => typeof p?.at === 'number' && typeof p?.epsilon === 'number')
      : [];
  } catch {
    return [];
  }
}

/** Adds a reading when ε changed since the last one (readings only: nothing is interpolated). */
export function recordEpsilon(report: PrivacyReport, now = Date.now()): EpsilonPoint[] {
  const log = readEpsilonLog();
  const epsilon = report.spent?.epsilon ?? 0;
  const last = log[log.length - 1];
  if (last && last.epsilon === epsilon) return log;
  log.push({ at: now, epsilon });
  const kept = log.slice(-MAX_POINTS);
  local.set(KEY, JSON.stringify(kept));
  return kept;
}

export function clearEpsilonLog(): void {
  local.set(KEY, null);
}
