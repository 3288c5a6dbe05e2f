/**
 * Owns the merchant policy as served: the stored rules and segments, the pacing multipliers (the
 * controller stepped at most once per interval, from today's k-anonymous counts), the version
 * that names them, and what a version's segment reports are read with.
 *
 * A version is `p-` and 16 hex digits of the SHA-256 of the rules, segments, multipliers and the
 * segment ε in force: it changes whenever any of them does. Every version is recorded before it is
 * served, with its segment list and ε, so a segment report naming it can be checked at ingest and
 * debiased in the report, whatever the policy is by then.
 */
import { createHash } from 'node:crypto';
import { POLICY_FORMAT, type PolicyDocument, type Rules, type Segment } from '@vitrine/core/policy';
import { Cached } from '../cached';
import type { Mechanism } from '../mechanism';
import { pacingStep, utcDay, type PacingBudget, type PacingState } from '../pacing/controller';
import { selectActivityCounts } from '../store/batches';
import type { Db } from '../store/db';
import {
  insertPolicy,
  insertPolicyVersion,
  selectCurrentPolicy,
  selectPacingStates,
  selectPolicyVersions,
  selectSegmentList,
  upsertPacingState,
  type StoredPolicy,
  type VersionDefinition,
} from '../store/policy';
import { pacingKey } from './validate';

export interface PacingRow {
  activity: string;
  metric: PacingBudget['metric'];
  perDay: number;
  /** Today's (UTC, by receive time) count of the metric; null while fewer than k batches held the activity today. */
  todayCount: number | null;
  multiplier: number;
}

export interface ServedPolicy {
  document: PolicyDocument;
  /** The document as served (serialized once per computation). */
  json: string;
  /** The ε of the segment reports asked for under this version; null when the policy has no segments or reports are off. */
  segmentEpsilon: number | null;
  pacing: PacingRow[];
}

export interface PolicyServiceOptions {
  db: Db;
  mech: Mechanism;
  kThreshold: number;
  cacheMs: number;
  pacingIntervalMs: number;
  now: () => number;
}

const EMPTY: Pick<StoredPolicy, 'rules' | 'segments'> = { rules: {}, segments: [] };
/** Multipliers are published to 4 decimals: finer steps would only churn versions. */
const MULTIPLIER_DIGITS = 4;

export class PolicyService {
  private readonly cache: Cached<ServedPolicy>;
  /** Versions known to be recorded (bounded: cleared when large; a miss only costs an idempotent insert). */
  private readonly recorded = new Set<string>();
  private readonly definitions = new Map<string, { categories: number; epsilon: number } | null>();

  constructor(private readonly o: PolicyServiceOptions) {
    this.cache = new Cached(() => this.compute(), o.cacheMs);
  }

  /** The policy as served now (computed at most once per cacheMs; the pacing controller steps inside). */
  served(): Promise<ServedPolicy> {
    return this.cache.get();
  }

  /** The stored rules and segments, or null when none were ever set. */
  stored(): Promise<StoredPolicy | null> {
    return selectCurrentPolicy(this.o.db);
  }

  /** Stores a (validated) policy; the next read serves it. */
  async replace(policy: { rules: Rules; segments: Segment[] }, source: string): Promise<ServedPolicy> {
    await insertPolicy(this.o.db, { ...policy, source });
    this.cache.invalidate();
    return this.served();
  }

  /**
   * For a segment report naming `version`: how many categories it has (segments + 1 for "none")
   * and the ε it was asked with; null when the version is unknown or asked for no reports.
   */
  async reportDefinition(version: string): Promise<{ categories: number; epsilon: number } | null> {
    if (this.definitions.has(version)) return this.definitions.get(version)!;
    const [d] = await selectPolicyVersions(this.o.db, [version]);
    const segments = d && d.segmentEpsilon !== null ? await selectSegmentList(this.o.db, d.segmentsKey) : null;
    const found = d && segments && d.segmentEpsilon !== null ? { categories: segments.length + 1, epsilon: d.segmentEpsilon } : null;
    if (this.definitions.size > 10_000) this.definitions.clear();
    // Unknown versions are not remembered: one may be recorded by another server a moment later.
    if (found) this.definitions.set(version, found);
    return found;
  }

  /** The recorded definitions of `versions` (for the report). */
  versionDefinitions(versions: string[]): Promise<VersionDefinition[]> {
    return selectPolicyVersions(this.o.db, versions);
  }

  segmentList(key: string): Promise<Segment[] | null> {
    return selectSegmentList(this.o.db, key);
  }

  /** Seeds the store from a file's policy when it holds none yet; true when it did. */
  async seed(policy: { rules: Rules; segments: Segment[] }, source: string): Promise<boolean> {
    if (await this.stored()) return false;
    await this.replace(policy, source);
    return true;
  }

  private async compute(): Promise<ServedPolicy> {
    const { db, mech, now } = this.o;
    const policy = (await selectCurrentPolicy(db)) ?? EMPTY;
    const budgets: PacingBudget[] = policy.rules.pacing ?? [];
    const at = now();
    const pacing = budgets.length ? await this.stepPacing(budgets, at) : [];
    const multipliers: Record<string, number> = {};
    for (const row of pacing) {
      const m = Number(row.multiplier.toFixed(MULTIPLIER_DIGITS));
      multipliers[row.activity] = Math.min(multipliers[row.activity] ?? 1, m);
    }
    const segmentEpsilon = policy.segments.length > 0 ? mech.segmentEpsilon : null;
    const segmentsKey = hash(canonical(policy.segments));
    const version = `p-${hash(canonical({ rules: policy.rules, segmentsKey, pacing: multipliers, segmentEpsilon }))}`;
    if (!this.recorded.has(version)) {
      await db.transaction((tx) => insertPolicyVersion(tx, { version, segmentsKey, segmentEpsilon }, policy.segments));
      if (this.recorded.size > 10_000) this.recorded.clear();
      this.recorded.add(version);
    }
    const document: PolicyDocument = {
      format: POLICY_FORMAT,
      version,
      rules: policy.rules,
      segments: policy.segments,
      pacing: multipliers,
      issuedAt: Math.floor(at),
    };
    return { document, json: JSON.stringify(document), segmentEpsilon, pacing };
  }

  /**
   * Steps the controller of every budget whose last step is older than the interval (or of another
   * day), from today's counts, under a lock so that servers sharing one PostgreSQL step once.
   */
  private async stepPacing(budgets: PacingBudget[], at: number): Promise<PacingRow[]> {
    const { db, kThreshold, pacingIntervalMs } = this.o;
    return db.transaction(async (tx) => {
      if (db.kind === 'postgres') await tx.query('select pg_advisory_xact_lock(7463731)');
      const states = await selectPacingStates(tx);
      const counts = await selectActivityCounts(tx, utcDay(at), [...new Set(budgets.map((b) => b.activity))]);
      const rows: PacingRow[] = [];
      for (const b of budgets) {
        const key = pacingKey(b);
        let state: PacingState | undefined = states.get(key);
        const c = counts.get(b.activity) ?? { impressions: 0, redemptions: 0, batches: 0 };
        const today = { count: b.metric === 'impressions' ? c.impressions : c.redemptions, batches: c.batches };
        if (!state || at - state.steppedAt >= pacingIntervalMs || utcDay(at) !== state.day) {
          state = pacingStep(state ?? null, b, today, at, kThreshold);
          await upsertPacingState(tx, key, state);
        }
        rows.push({
          activity: b.activity,
          metric: b.metric,
          perDay: b.perDay,
          todayCount: today.batches >= Math.max(1, kThreshold) ? today.count : null,
          multiplier: state.multiplier,
        });
      }
      return rows;
    });
  }
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** JSON with object keys sorted, so equal values hash equally whatever order a store hands their keys back in. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
