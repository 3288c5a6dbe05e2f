/**
 * Exponential backoff with "equal jitter": attempt 0 waits between base/2 and base, each later
 * attempt twice as long, capped. The jitter keeps many devices from retrying in lockstep after
 * a server restart. Shared by the model-load retry and the signal sender.
 */
export function backoffDelay(attempt: number, random: () => number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** attempt) * (0.5 + random() / 2);
}
