import type { ProfileEvent } from '@vitrine/core/features';
import type { RetentionPolicy } from './store';

const DAY_MS = 86_400_000;

/** Keeps the newest `maxEvents` events that are younger than `maxAgeDays`. */
export function prune(events: ProfileEvent[], policy: RetentionPolicy, now: number): ProfileEvent[] {
  const cutoff = now - policy.maxAgeDays * DAY_MS;
  const fresh = events.filter((e) => e.hour >= cutoff);
  return fresh.slice(Math.max(0, fresh.length - policy.maxEvents));
}
