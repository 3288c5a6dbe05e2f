import { epsilonFromRho, rhoForEpsilon } from '@vitrine/core/privacy';
import type { Ledger } from './outbox';
import type { PrivacyParameters } from '@vitrine/core/protocol';

const DAY_MS = 86_400_000;

/**
 * The device's own privacy accountant (zCDP). Every contribution of a model update costs the
 * published rho; the sum over the last `windowDays` never exceeds the rho that the published
 * (epsilon, delta) budget allows, and contributions are at least `minHoursBetween` apart.
 */
export class PrivacyAccountant {
  constructor(
    private readonly params: PrivacyParameters,
    private readonly now: () => number,
  ) {}

  private window(ledger: Ledger) {
    const since = this.now() - this.params.budget.windowDays * DAY_MS;
    return ledger.contributions.filter((c) => c.at > since);
  }

  spentRho(ledger: Ledger): number {
    return this.window(ledger).reduce((s, c) => s + c.rho, 0);
  }

  budgetRho(): number {
    return rhoForEpsilon(this.params.budget.epsilon, this.params.budget.delta);
  }

  /** Why the device may not contribute now, or null when it may. */
  refusal(ledger: Ledger): string | null {
    if (ledger.blockedSince !== undefined && this.now() - ledger.blockedSince < this.params.budget.windowDays * DAY_MS) {
      return ledger.blockedReason ?? 'the privacy ledger was reset: no update for this window';
    }
    const recent = this.window(ledger);
    const last = recent.reduce((m, c) => Math.max(m, c.at), -Infinity);
    if (this.now() - last < this.params.update.minHoursBetween * 3_600_000) return `one update per ${this.params.update.minHoursBetween} h`;
    if (this.spentRho(ledger) + this.params.update.rhoPerContribution > this.budgetRho() * (1 + 1e-12))
      return 'privacy budget for this window is spent';
    return null;
  }

  /** Records one contribution (before anything leaves the device). */
  charge(ledger: Ledger): Ledger {
    return { ...ledger, contributions: [...this.window(ledger), { at: this.now(), rho: this.params.update.rhoPerContribution }] };
  }

  report(ledger: Ledger) {
    const rho = this.spentRho(ledger);
    const { epsilon, delta, windowDays } = this.params.budget;
    // ε spent in the current window as it stood after each of its contributions (zCDP composes by adding rho).
    let running = 0;
    const history = [...this.window(ledger)]
      .sort((a, b) => a.at - b.at)
      .map((c) => ({ at: c.at, epsilon: epsilonFromRho((running += c.rho), delta) }));
    return {
      budget: { epsilon, delta, windowDays },
      spent: {
        epsilon: epsilonFromRho(rho, delta),
        delta: rho > 0 ? delta : 0,
        rho,
        contributions: this.window(ledger).length,
        history,
      },
      remaining: {
        rho: Math.max(0, this.budgetRho() - rho),
        contributions: Math.floor(Math.max(0, this.budgetRho() - rho) / this.params.update.rhoPerContribution + 1e-9),
      },
    };
  }
}
