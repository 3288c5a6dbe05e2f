/**
 * Owns the admin report (GET /v1/admin/report): what the dashboard draws, computed from the stored
 * batches of the last REPORT_WINDOW_DAYS days, the registry and promotion records, the privacy
 * parameters and the policy service. Every number about shoppers is k-thresholded: hours, arms,
 * activities, segments, OPE need at least k batches behind them (k = privacy.kThreshold).
 */
import { epsilonFromRho, rhoForEpsilon } from '@vitrine/core/privacy';
import type { PrivacyConfig } from '../config';
import { contributionRho, type Mechanism } from '../mechanism';
import type { PolicyService, PacingRow } from '../policy/service';
import type { ModelRegistry } from '../registry/registry';
import type { ExpectedGain } from '../registry/seed';
import { contributorsPerWindow, expectations } from '../http/privacy';
import { selectHourlyTotals, selectReportBatches, type ReportBatch } from '../store/batches';
import type { Db } from '../store/db';
import { selectRecentPromotions } from '../store/promotions';
import { activityReport, type ActivityRow } from './activities';
import { liftReport, type LiftReport } from './lift';
import { opeSummary, type OpeSummary } from './ope';
import { segmentReport, type SegmentRow } from './segments';

/** The report reads the batches received in this many days (events older than 14 days are refused at ingest anyway). */
export const REPORT_WINDOW_DAYS = 30;
/** Hours of `signalsPerHour`. */
export const SIGNAL_HOURS = 72;

export interface AdminReport {
  generatedAt: number;
  k: number;
  storage: string;
  windowDays: number;
  /** Per hour of the server's receive time (epoch ms of the hour), oldest first; an hour with fewer than k batches says suppressed. */
  signalsPerHour: { hour: number; batches: number | null; events: number | null; suppressed: boolean }[];
  activities: ActivityRow[];
  suppressedActivities: number;
  lift: LiftReport;
  ope: { current: OpeSummary | null; shadow: OpeSummary | null };
  segments: {
    policyVersion: string;
    epsilon: number;
    rows: SegmentRow[];
    suppressed: number;
    /** Segment reports read (null below k). */
    reports: number | null;
  } | null;
  lineage: {
    versions: {
      version: string;
      parent: string | null;
      status: string;
      round: number | null;
      publishedAt: number;
      promotedAt: number | null;
    }[];
    promotions: Decision[];
    rejections: Decision[];
  };
  privacy: {
    epsilon: number;
    delta: number;
    windowDays: number;
    perContribution: { rho: number; epsilon: number };
    /** How many contributions a device's ledger admits per window at that cost. */
    contributionsPerWindow: number;
    segmentEpsilon: number | null;
  };
  expectedGain: { contributorsPerWindow: number; shareOfCentralGain: number; source: string } | null;
  pacing: PacingRow[];
}

/** A promotion check's decision with its off-policy evidence (a rejection without evidence: replaced by a newer candidate). */
export interface Decision {
  at: number;
  shadow: string;
  current: string;
  decision: string;
  reason: string;
  events: number | null;
  networks: number | null;
  currentValue: number | null;
  shadowValue: number | null;
  shadowCi: [number, number] | null;
  differenceLower: number | null;
  effectiveSampleSize: number | null;
}

export interface ReportDeps {
  db: Db;
  registry: ModelRegistry;
  privacy: PrivacyConfig;
  mech: Mechanism;
  policies: PolicyService;
  expectedGain: ExpectedGain | null;
  now: () => number;
}

export async function buildReport(deps: ReportDeps): Promise<AdminReport> {
  const { db, registry, privacy, mech, policies, now } = deps;
  const at = now();
  const k = Math.max(1, privacy.kThreshold);
  const served = await policies.served();
  const batches = await selectReportBatches(db, at - REPORT_WINDOW_DAYS * 86_400_000);
  const events = batches.map((b) => b.events);
  const { activities, suppressedActivities } = activityReport(events, k);
  const rho = contributionRho(mech, served.segmentEpsilon !== null);
  const budgetRho = rhoForEpsilon(privacy.epsilon, privacy.delta);
  return {
    generatedAt: at,
    k,
    storage: db.kind,
    windowDays: REPORT_WINDOW_DAYS,
    signalsPerHour: await signalsPerHour(db, at, k),
    activities,
    suppressedActivities,
    lift: liftReport(events, k),
    ope: offPolicy(registry, batches, k),
    segments: await segmentTable(policies, served.document.version, batches, k),
    lineage: await lineage(db, registry),
    privacy: {
      epsilon: privacy.epsilon,
      delta: privacy.delta,
      windowDays: privacy.windowDays,
      perContribution: { rho, epsilon: epsilonFromRho(rho, privacy.delta) },
      contributionsPerWindow: Math.floor(budgetRho / rho + 1e-9),
      segmentEpsilon: served.segmentEpsilon,
    },
    expectedGain: deps.expectedGain
      ? expectations(deps.expectedGain, await contributorsPerWindow(db, privacy.contributionsPerWindow))
      : null,
    pacing: served.pacing,
  };
}

async function signalsPerHour(db: Db, at: number, k: number): Promise<AdminReport['signalsPerHour']> {
  const hour = 3_600_000;
  const last = Math.floor(at / hour) * hour;
  const first = last - (SIGNAL_HOURS - 1) * hour;
  const totals = new Map((await selectHourlyTotals(db, first)).map((t) => [t.hour, t]));
  return Array.from({ length: SIGNAL_HOURS }, (_, i) => {
    const h = first + i * hour;
    const t = totals.get(h);
    if (!t) return { hour: h, batches: 0, events: 0, suppressed: false };
    return t.batches >= k
      ? { hour: h, batches: t.batches, events: t.events, suppressed: false }
      : { hour: h, batches: null, events: null, suppressed: true };
  });
}

/** The current model on its own logs (with a shadow: the logs that carry the shadow's q, so both are on the same events). */
function offPolicy(registry: ModelRegistry, batches: ReportBatch[], k: number): AdminReport['ope'] {
  const current = registry.getCurrent();
  const shadow = registry.getShadow();
  if (!current) return { current: null, shadow: null };
  const own = batches.filter((b) => b.model === current.version);
  if (!shadow)
    return {
      current: opeSummary(
        current.version,
        own.map((b) => b.events),
        (e) => e.propensity,
        k,
      ),
      shadow: null,
    };
  const logs = own.filter((b) => b.shadow === shadow.version).map((b) => b.events.filter((e) => e.shadowPropensity !== undefined));
  return {
    current: opeSummary(current.version, logs, (e) => e.propensity, k),
    shadow: opeSummary(shadow.version, logs, (e) => e.shadowPropensity!, k),
  };
}

/**
 * Segment × activity rows for the segments in force: every batch whose report names a version with
 * the same segment list and ε as the version served now (versions differ with every pacing step).
 */
async function segmentTable(policies: PolicyService, version: string, batches: ReportBatch[], k: number): Promise<AdminReport['segments']> {
  const [now] = await policies.versionDefinitions([version]);
  if (!now || now.segmentEpsilon === null) return null;
  const segments = await policies.segmentList(now.segmentsKey);
  if (!segments?.length) return null;
  const reported = batches.filter((b) => b.segment !== null);
  const named = [...new Set(reported.map((b) => b.segment!.policy))];
  const same = new Set(
    (await policies.versionDefinitions(named))
      .filter((d) => d.segmentsKey === now.segmentsKey && d.segmentEpsilon === now.segmentEpsilon)
      .map((d) => d.version),
  );
  const pooled = reported.filter((b) => same.has(b.segment!.policy)).map((b) => ({ index: b.segment!.index, events: b.events }));
  const { rows, suppressed } = segmentReport(pooled, segments, now.segmentEpsilon, k);
  return { policyVersion: version, epsilon: now.segmentEpsilon, rows, suppressed, reports: pooled.length >= k ? pooled.length : null };
}

async function lineage(db: Db, registry: ModelRegistry): Promise<AdminReport['lineage']> {
  const history = await registry.history();
  const decisions = (await selectRecentPromotions(db, 100)).map(toDecision);
  const decided = new Set(decisions.map((d) => d.shadow));
  // A shadow rejected without a decision row was replaced by a newer round's candidate.
  const replaced: Decision[] = history
    .filter((m) => m.status === 'rejected' && !decided.has(m.version))
    .map((m) => ({
      at: new Date(m.created_at).getTime(),
      shadow: m.version,
      current: m.parent ?? '',
      decision: 'replaced',
      reason: 'replaced as the shadow by a newer round’s candidate before the evidence decided',
      events: null,
      networks: null,
      currentValue: null,
      shadowValue: null,
      shadowCi: null,
      differenceLower: null,
      effectiveSampleSize: null,
    }));
  return {
    versions: history.map((m) => ({
      version: m.version,
      parent: m.parent,
      status: m.status,
      round: m.round_id === null ? null : Number(m.round_id),
      publishedAt: new Date(m.created_at).getTime(),
      promotedAt: m.promoted_at === null ? null : new Date(m.promoted_at).getTime(),
    })),
    promotions: decisions.filter((d) => d.decision === 'promoted'),
    rejections: [...decisions.filter((d) => d.decision === 'rejected'), ...replaced],
  };
}

function toDecision(row: Record<string, unknown>): Decision {
  const report = (typeof row.report === 'string' ? JSON.parse(row.report) : row.report) as Record<string, unknown>;
  const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  const ci = Array.isArray(report.shadowCi) && report.shadowCi.length === 2 ? (report.shadowCi as [number, number]) : null;
  return {
    at: new Date(row.at as string).getTime(),
    shadow: String(row.shadow),
    current: String(row.current),
    decision: String(row.decision),
    reason: typeof report.reason === 'string' ? report.reason : '',
    events: num(report.events),
    networks: num(report.networks),
    currentValue: num(report.currentValue),
    shadowValue: num(report.shadowValue),
    shadowCi: ci,
    differenceLower: num(report.differenceLower),
    effectiveSampleSize: num(report.effectiveSampleSize),
  };
}
