import type { PrivacyFloors } from './signals/privacy-parameters';
import type { VitrineError } from './errors';

export type { Activity, FeatureRecord, FeatureValue, Outcome } from '@vitrine/core/domain';
export type { Condition, Match, Rules, Segment } from '@vitrine/core/policy/types';
import type { FeatureRecord } from '@vitrine/core/domain';
import type { Rules, Segment } from '@vitrine/core/policy/types';

/**
 * The shopper's choice, weakest first: 'none' (nothing stored on the device, nothing sent; ranking
 * from the page context only), 'profile' (the behaviour profile kept in IndexedDB, nothing sent),
 * 'signals' (the profile, and anonymized reward signals sent to the Vitrine server).
 */
export const CONSENTS = ['none', 'profile', 'signals'] as const;
export type Consent = (typeof CONSENTS)[number];
/** Scoring backends, in fallback order. */
export const BACKENDS = ['webgpu', 'wasm', 'webgl', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export const BACKEND_OPTIONS = ['auto', ...BACKENDS] as const;
export type BackendOption = (typeof BACKEND_OPTIONS)[number];
export type RankingBackend = BackendName | 'rules';
/** What the shop may ask for: 'auto' (IndexedDB, else memory) or 'memory'. */
export const STORAGE_OPTIONS = ['auto', 'memory'] as const;
export type StorageOption = (typeof STORAGE_OPTIONS)[number];
/** Where the profile and the signal queue really live. */
export const STORAGE_KINDS = ['indexeddb', 'memory'] as const;
export type StorageKind = (typeof STORAGE_KINDS)[number];

export interface Progress {
  stage: 'manifest' | 'download' | 'verify' | 'cache' | 'backend' | 'warmup' | 'ready';
  /** 0..1 over the whole initialisation. */
  progress: number;
  loadedBytes?: number;
  totalBytes?: number;
  detail?: string;
}

export interface VitrineOptions {
  /** URL of a model manifest (relative URLs resolve against the page). */
  model: string;
  /**
   * Vitrine server base URL (e.g. `https://vitrine.example/v1`). With `consent: 'signals'` the
   * SDK sends it anonymized reward signals (see docs/privacy.md); nothing is sent otherwise.
   */
  endpoint?: string;
  /**
   * The shopper's choice (the shop sets the default; default 'profile'): 'none' stores nothing on
   * the device and ranks from the page context only, 'profile' keeps the behaviour profile in
   * IndexedDB, 'signals' also sends anonymized reward signals. `setConsent` changes it at once.
   */
  consent?: Consent;
  backend?: BackendOption;
  /** Attributes of a signed-in shopper; they never leave the device (and are not used under consent 'none'). */
  user?: FeatureRecord;
  onProgress?: (p: Progress) => void;
  /** Receives errors of fire-and-forget calls (track) and degradations. */
  onError?: (err: VitrineError) => void;
  /** Exploration rate of the epsilon-greedy slate policy, 0..1 (default 0.05). */
  epsilon?: number;
  /** Where the wasm binaries live (default: beside the SDK's own files). */
  wasmPaths?: string;
  /** 'auto' (IndexedDB, else memory) or 'memory'. */
  storage?: StorageOption;
  /**
   * The weakest privacy parameters under which this device attaches model updates (defaults:
   * epsilon ≤ 10, delta ≤ 1e-5, window ≥ 7 days, rounds of ≥ 10 networks, k ≥ 5; see
   * docs/privacy.md). Parameters below them are refused: reward events are still sent, updates
   * are not. Loosen only for a QA loop.
   */
  privacyFloors?: Partial<PrivacyFloors>;
  /** Random source in [0,1); injectable for reproducible tests. */
  random?: () => number;
  /** Clock; injectable for tests. */
  now?: () => number;
  /**
   * The model signing public key to pin (ECDSA P-256): SPKI as base64 (what the server prints and
   * `npm start` hands the demo shop) or a JWK. With it, only manifests signed by this key, whose
   * version label matches their weights and whose `sequence` never goes down are used.
   */
  modelKey?: string | JsonWebKey;
  /**
   * The shop's business rules (exclusions, targeting, caps, boosts, pins, diversity; see
   * docs/merchant.md). They add to the rules the server publishes at `${endpoint}/policy`.
   */
  rules?: Rules;
  /** The shop's segments: rules over the on-device profile and attributes; membership never leaves the device as such. */
  segments?: Segment[];
  /**
   * The A/B holdout: a share of page views (default 0.1) ranked by a control policy, the shop's
   * order (default) or a uniformly random one, to measure lift. It runs while signals are sent
   * (consent 'signals' and an endpoint): only there can the lift be measured. `sticky` keeps one
   * arm per device (stored on the device, never sent). `false` turns it off.
   */
  holdout?: false | { share?: number; control?: 'shop-order' | 'uniform'; sticky?: boolean };
}

/** What was verified about the model in use (`status.integrity`). */
export interface ModelIntegrity {
  /** 'verified': signed by the pinned `modelKey`; 'unchecked': no key is pinned, so authenticity is not checked. */
  signature: 'verified' | 'unchecked';
  /** Id of the key that signed it (first 16 hex of the sha256 of its SPKI). */
  keyId?: string;
  /** Whether the version label is the one its weights give it (refused on mismatch only with a pinned key). */
  versionLabel: 'matches' | 'mismatch' | 'unchecked';
  /** The manifest's publish sequence; with a pinned key never lower than one accepted before from the same URL. */
  sequence?: number;
  /** Set when the server republished this older version as a signed rollback: the version it replaced. */
  rollbackOf?: string;
  /** The channel the manifest was signed for; with a pinned key always the one loaded ('current' for `options.model`). */
  role?: 'current' | 'shadow';
  /**
   * The rollback floor this load was held to: the highest sequence accepted before from this
   * manifest URL, or 'none' (first load, no pinned key, or the Cache API record is gone: `forget()`,
   * storage eviction, no Cache API). With 'none' any validly signed sequence is accepted.
   */
  rollbackFloor: 'none' | number;
  /** 'last-good': the cached last verified manifest (the served one was refused or unavailable; see warnings). */
  source: 'network' | 'last-good';
  /** Time spent checking the signature and the label, ms. */
  verifyMs?: number;
}

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

export interface BackendSelection {
  /** Why this backend was chosen; says so when a switch may follow. */
  reason: string;
  /** Warm-up timings per backend tried (ms for one batch), when a race was run. */
  timingsMs?: Partial<Record<BackendName, number>>;
  /**
   * `backend: 'auto'`: the backend being raced or warmed up in the background while another one
   * ranks; ranking may switch to it. Gone once that is decided (the status then has a new
   * selection, and `backend` says what ranks).
   */
  pending?: BackendName;
  /** Set when ranking switched backends in the background: the backend that ranked before. */
  switchedFrom?: BackendName;
}

export interface VitrineStatus {
  ready: boolean;
  backend: RankingBackend;
  adapter?: AdapterInfo;
  selection?: BackendSelection;
  modelVersion?: string;
  /** What was verified about the model in use: signature (or 'unchecked' without `modelKey`), label, sequence. */
  integrity?: ModelIntegrity;
  /** Where the behaviour profile lives; 'none' under consent 'none' (nothing kept, nothing used). */
  profile: StorageKind | 'none';
  /** The shopper's current choice (see `VitrineOptions.consent`). */
  consent: Consent;
  /** Why the shop's own order is returned; says so when a retry of the model load is scheduled. */
  degraded?: string;
  /** Non-fatal problems met on the way (e.g. a refused model update, storage fallback). */
  warnings: string[];
}

export interface Reason {
  code: 'model' | 'explore' | 'profile' | 'rules' | 'fallback' | 'control';
  text: string;
}

export interface RankedItem {
  id: string;
  /** Model score (predicted probability of a positive outcome), or null under rules. */
  score: number | null;
  /** Probability that the policy placed this item at this position. */
  propensity: number;
  position: number;
  reasons: Reason[];
  /**
   * The model never saw this activity (its id is not in the model's vocabulary): it is scored from
   * its type and features only. Always false under rules and for models without an id feature.
   */
  coldStart: boolean;
  /** The model's input vector, only with `includeFeatures`. */
  features?: number[];
}

export interface Decision {
  id: string;
  items: RankedItem[];
  modelVersion: string | null;
  backend: RankingBackend;
  policy: {
    name: 'epsilon-greedy-slate';
    epsilon: number;
    explored: boolean;
    /** The holdout arm of this page view: 'control' follows the control policy (absent when no holdout runs). */
    arm?: 'vitrine' | 'control';
  };
  /** Activities dropped because they were outside their eligibility window. */
  ineligible: string[];
  /**
   * Activities the merchant's rules left out, and which rule: 'exclude', 'target' (not in a
   * targeted segment), 'hidden' (an outcome in `hideAfter`, e.g. redeemed), 'cap' (frequency cap),
   * 'paced' (the server's pacing), 'diversity' (more of its type than `maxPerType`).
   */
  excluded?: { id: string; rule: 'exclude' | 'target' | 'hidden' | 'cap' | 'paced' | 'diversity' }[];
  degraded?: string;
}

export interface RankOptions {
  context?: FeatureRecord;
  /** Number of placements to return (default: all eligible). */
  slots?: number;
  /** Evaluate eligibility windows at this time (default: now). */
  at?: string | number | Date;
  /** Attach each item's encoded feature vector (for QA and the shared test vectors). */
  includeFeatures?: boolean;
  /** Rules for this call only, added to the client's and the server's. */
  rules?: Rules;
}

/** A group of a card's inputs, as `explain()` attributes its score. */
export type ExplanationGroup = 'context' | 'history' | 'shopper' | 'offer' | 'exploration';

export interface ExplanationReason {
  /**
   * 'context': the page context given to rank(); 'history': the behaviour profile; 'shopper': the
   * shopper's attributes (`user`); 'offer': the activity's own id, type and features;
   * 'exploration': the policy placed the card to learn (contribution 0).
   */
  group: ExplanationGroup;
  /** The card's score minus its score with this group's inputs removed (probability points, -1..1). */
  contribution: number;
  /** The reason in plain words, e.g. "You often take Coffee House offers". */
  text: string;
}

/** "Why this offer", computed on the device by `explain()` with the inputs the decision ranked with. */
export interface Explanation {
  decisionId: string;
  activityId: string;
  /** The card's score now (null when the decision used the shop's order). */
  score: number | null;
  coldStart: boolean;
  /** The policy placed the card where the greedy order would not have (exploration). */
  explored: boolean;
  /** The leading reason, in plain words. */
  summary: string;
  /** Exploration first when it placed the card, then by contribution, most positive first; negligible groups left out. */
  reasons: ExplanationReason[];
}
