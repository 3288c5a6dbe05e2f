import type { BackendOption, Consent } from '@vitrine/sdk';
import { DEFAULT_SITUATION, DEFAULT_USER, NUMERIC_CONTEXT } from './catalog';
import { createStore, local } from './store';

/**
 * The shop's state. Only the banner's consent choice and the QA panel toggle persist (localStorage,
 * the shop's own settings); the shopper's attributes, the situation and the cart live in memory,
 * so consent 'none' really leaves nothing about the shopper on the device.
 */
const CONSENT_KEY = 'vitrine-demo-consent';
const QA_KEY = 'vitrine-demo-qa';

/** The shop's default until the shopper chooses: the profile stays on this device, nothing is sent. */
export const DEFAULT_CONSENT: Consent = 'profile';
const CONSENT_VALUES: readonly Consent[] = ['none', 'profile', 'signals'];

function storedConsent(): Consent | null {
  const v = local.get(CONSENT_KEY);
  return CONSENT_VALUES.includes(v as Consent) ? (v as Consent) : null;
}

/** The shopper's choice; null until they chose (the banner shows, the shop's default applies). */
export const consentChoice$ = createStore<Consent | null>(storedConsent());
export const effectiveConsent = (): Consent => consentChoice$.get() ?? DEFAULT_CONSENT;

export function saveConsent(c: Consent): void {
  local.set(CONSENT_KEY, c);
  consentChoice$.set(c);
}

export const qaOpen$ = createStore(local.get(QA_KEY) === 'open');
export function setQaOpen(open: boolean): void {
  local.set(QA_KEY, open ? 'open' : null);
  qaOpen$.set(open);
}

export const backend$ = createStore<BackendOption>('auto');
export const user$ = createStore<Record<string, string>>({ ...DEFAULT_USER });
export const situation$ = createStore<Record<string, string>>({ ...DEFAULT_SITUATION });

/** The situation as rank() context: numeric fields as numbers. */
export function situationContext(s: Record<string, string>): Record<string, string | number> {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, NUMERIC_CONTEXT.includes(k) ? Number(v) : v]));
}

/** An offer in the cart, with the decision that placed it (checkout tracks 'purchase' for it). */
export interface CartLine {
  offerId: string;
  decisionId: string | null;
}
export const cart$ = createStore<CartLine[]>([]);
export function addToCart(offerId: string, decisionId: string | null): void {
  cart$.set((lines) => (lines.some((l) => l.offerId === offerId) ? lines : [...lines, { offerId, decisionId }]));
}
export function removeFromCart(offerId: string): void {
  cart$.set((lines) => lines.filter((l) => l.offerId !== offerId));
}

/** Offers the shopper said "Not for me" to in this visit: hidden at once, left out of later slots. */
export const dismissed$ = createStore<ReadonlySet<string>>(new Set());
export function dismiss(offerId: string): void {
  dismissed$.set((s) => new Set([...s, offerId]));
}

const BUDGET_KEY = 'vitrine-demo-budget';
/** The slots' ranking budget, ms; undefined = the package default. A QA setting, kept across reloads. */
export const budget$ = createStore<number | undefined>(Number(local.get(BUDGET_KEY)) || undefined);
export function setBudget(ms: number | undefined): void {
  local.set(BUDGET_KEY, ms === undefined ? null : String(ms));
  budget$.set(ms);
}
