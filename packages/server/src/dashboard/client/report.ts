/**
 * Owns the dashboard's reading of GET /v1/admin/report: the shape the page relies on, and a
 * defensive parse (the page draws what it can read and says what it could not, never throws on
 * an unexpected field). Counts are the server's: it releases no per-activity or per-segment
 * count below its k-threshold, and the page never derives one.
 */

export interface Interval {
  estimate: number;
  low: number;
  high: number;
}

export interface ArmStats {
  batches: number;
  impressions: number;
  clicks: number;
  ctr: number | null;
  ctrLow: number | null;
  ctrHigh: number | null;
  rewardRate: number | null;
  rewardLow: number | null;
  rewardHigh: number | null;
  suppressed?: boolean;
}

export interface AdminReport {
  generatedAt: number;
  k: number;
  storage?: string;
  /** Days of stored batches the report reads. */
  windowDays?: number;
  /** Per hour of receive time; an hour with fewer than k batches is suppressed (its counts are not released). */
  signalsPerHour: { hour: number; batches: number; events: number; suppressed: boolean }[];
  /** Width of a signalsPerHour bucket in hours, when the server says it. */
  signalsBucketHours?: number;
  activities: {
    id: string;
    batches: number | null;
    impressions: number;
    clicks: number;
    ctr: number;
    ctrLow: number;
    ctrHigh: number;
    rewardRate: number | null;
  }[];
  suppressedActivities: number;
  lift: {
    vitrine: ArmStats | null;
    control: ArmStats | null;
    ctrLift: Interval | null;
    rewardLift: Interval | null;
    overTime: { day: number; vitrine: ArmStats | null; control: ArmStats | null; ctrLift: Interval | null }[];
  } | null;
  ope: { current: OpeRow | null; shadow: OpeRow | null } | null;
  segments: {
    policyVersion: string | number;
    epsilon: number | null;
    rows: {
      segment: number | string;
      name: string;
      activity: string;
      batches: number | null;
      impressions: number;
      clicks: number;
      ctr: number;
      low: number;
      high: number;
    }[];
    suppressed: number;
    /** Segment reports read (null below k). */
    reports: number | null;
  } | null;
  lineage: {
    versions: {
      version: string;
      parent: string | null;
      publishedAt: number | string | null;
      promotedAt: number | string | null;
      round: number | null;
      status: string;
    }[];
    promotions: Decision[];
    rejections: Decision[];
  };
  privacy: {
    epsilon: number;
    delta: number;
    windowDays: number;
    perContribution: { rho: number; epsilon: number };
    contributionsPerWindow: number | null;
    segmentEpsilon: number | null;
  } | null;
  expectedGain: { contributorsPerWindow: number; shareOfCentralGain: number; source: string } | null;
  pacing: { activity: string; metric: string; perDay: number; todayCount: number | null; multiplier: number }[];
}

export interface OpeRow {
  version: string;
  events: number | null;
  batches: number | null;
  ipw: number | null;
  snipw: number | null;
  /** SNIPW's 95% interval. */
  low: number | null;
  high: number | null;
  interval: string | null;
  ess: number | null;
  warnings: string[];
}

/** A promotion check's decision with its off-policy evidence (all null for a shadow replaced before the evidence decided). */
export interface Decision {
  at: number | string | null;
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

type Json = Record<string, unknown>;

const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);
const finite = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const count = (x: unknown): number => {
  const n = finite(x);
  return n !== null && n >= 0 ? n : 0;
};
const text = (x: unknown): string | null => (typeof x === 'string' ? x : typeof x === 'number' && Number.isFinite(x) ? String(x) : null);
const list = (x: unknown): Json[] => (Array.isArray(x) ? x.filter(isObject) : []);

function interval(x: unknown): Interval | null {
  if (!isObject(x)) return null;
  const estimate = finite(x.estimate);
  const low = finite(x.low);
  const high = finite(x.high);
  return estimate === null || low === null || high === null ? null : { estimate, low, high };
}

function arm(x: unknown): ArmStats | null {
  if (!isObject(x)) return null;
  return {
    batches: count(x.batches),
    impressions: count(x.impressions),
    clicks: count(x.clicks),
    ctr: finite(x.ctr),
    ctrLow: finite(x.ctrLow),
    ctrHigh: finite(x.ctrHigh),
    rewardRate: finite(x.rewardRate),
    rewardLow: finite(x.rewardLow),
    rewardHigh: finite(x.rewardHigh),
    ...(x.suppressed === true ? { suppressed: true } : {}),
  };
}

function ope(x: unknown): OpeRow | null {
  if (!isObject(x)) return null;
  const version = text(x.version);
  if (version === null) return null;
  return {
    version,
    events: finite(x.events),
    batches: finite(x.batches),
    ipw: finite(x.ipw),
    snipw: finite(x.snipw),
    low: finite(x.low),
    high: finite(x.high),
    interval: text(x.interval),
    ess: finite(x.ess),
    warnings: Array.isArray(x.warnings) ? x.warnings.filter((w): w is string => typeof w === 'string') : [],
  };
}

function decision(x: Json): Decision {
  const ci = Array.isArray(x.shadowCi) && x.shadowCi.length === 2 ? x.shadowCi.map(finite) : [null, null];
  return {
    at: finite(x.at) ?? text(x.at),
    shadow: text(x.shadow) ?? '–',
    current: text(x.current) ?? '–',
    decision: text(x.decision) ?? '–',
    reason: text(x.reason) ?? '',
    events: finite(x.events),
    networks: finite(x.networks),
    currentValue: finite(x.currentValue),
    shadowValue: finite(x.shadowValue),
    shadowCi: ci[0] !== null && ci[1] !== null ? [ci[0], ci[1]] : null,
    differenceLower: finite(x.differenceLower),
    effectiveSampleSize: finite(x.effectiveSampleSize),
  };
}

/** Reads the report; throws only when the answer is not a report at all (then the page says so). */
export function parseReport(raw: unknown): AdminReport {
  if (!isObject(raw) || finite(raw.k) === null) throw new Error('the server did not answer with a report');
  const lift = isObject(raw.lift) ? raw.lift : null;
  const segments = isObject(raw.segments) ? raw.segments : null;
  const lineage = isObject(raw.lineage) ? raw.lineage : {};
  const privacy = isObject(raw.privacy) ? raw.privacy : null;
  const per = privacy && isObject(privacy.perContribution) ? privacy.perContribution : {};
  const gain = isObject(raw.expectedGain) ? raw.expectedGain : null;
  const opeRaw = isObject(raw.ope) ? raw.ope : null;
  return {
    generatedAt: finite(raw.generatedAt) ?? Date.now(),
    k: finite(raw.k)!,
    ...(text(raw.storage) !== null ? { storage: text(raw.storage)! } : {}),
    ...(finite(raw.windowDays) !== null ? { windowDays: finite(raw.windowDays)! } : {}),
    signalsPerHour: list(raw.signalsPerHour)
      .filter((r) => finite(r.hour) !== null)
      .map((r) => ({ hour: finite(r.hour)!, batches: count(r.batches), events: count(r.events), suppressed: r.suppressed === true }))
      .sort((a, b) => a.hour - b.hour),
    ...(finite(raw.signalsBucketHours) !== null ? { signalsBucketHours: finite(raw.signalsBucketHours)! } : {}),
    activities: list(raw.activities)
      .filter((a) => text(a.id) !== null && finite(a.ctr) !== null)
      .map((a) => ({
        id: text(a.id)!,
        batches: finite(a.batches),
        impressions: count(a.impressions),
        clicks: count(a.clicks),
        ctr: finite(a.ctr)!,
        ctrLow: finite(a.ctrLow) ?? finite(a.ctr)!,
        ctrHigh: finite(a.ctrHigh) ?? finite(a.ctr)!,
        rewardRate: finite(a.rewardRate),
      })),
    suppressedActivities: count(raw.suppressedActivities),
    lift: lift && {
      vitrine: arm(lift.vitrine),
      control: arm(lift.control),
      ctrLift: interval(lift.ctrLift),
      rewardLift: interval(lift.rewardLift),
      overTime: list(lift.overTime)
        .filter((d) => finite(d.day) !== null)
        .map((d) => ({ day: finite(d.day)!, vitrine: arm(d.vitrine), control: arm(d.control), ctrLift: interval(d.ctrLift) }))
        .sort((a, b) => a.day - b.day),
    },
    ope: opeRaw && { current: ope(opeRaw.current), shadow: ope(opeRaw.shadow) },
    segments: segments && {
      policyVersion: text(segments.policyVersion) ?? '–',
      epsilon: finite(segments.epsilon),
      rows: list(segments.rows)
        .filter((r) => text(r.activity) !== null && finite(r.ctr) !== null)
        .map((r) => ({
          segment: text(r.segment) ?? '?',
          name: text(r.name) ?? text(r.segment) ?? '?',
          activity: text(r.activity)!,
          batches: finite(r.batches),
          impressions: count(r.impressions),
          clicks: count(r.clicks),
          ctr: finite(r.ctr)!,
          low: finite(r.low) ?? finite(r.ctr)!,
          high: finite(r.high) ?? finite(r.ctr)!,
        })),
      suppressed: count(segments.suppressed),
      reports: finite(segments.reports),
    },
    lineage: {
      versions: list(lineage.versions)
        .filter((v) => text(v.version) !== null)
        .map((v) => ({
          version: text(v.version)!,
          parent: text(v.parent),
          publishedAt: finite(v.publishedAt) ?? text(v.publishedAt),
          promotedAt: finite(v.promotedAt) ?? text(v.promotedAt),
          round: finite(v.round),
          status: text(v.status) ?? '–',
        })),
      promotions: list(lineage.promotions).map(decision),
      rejections: list(lineage.rejections).map(decision),
    },
    privacy: privacy && {
      epsilon: finite(privacy.epsilon) ?? NaN,
      delta: finite(privacy.delta) ?? NaN,
      windowDays: finite(privacy.windowDays) ?? NaN,
      perContribution: { rho: finite(per.rho) ?? NaN, epsilon: finite(per.epsilon) ?? NaN },
      contributionsPerWindow: finite(privacy.contributionsPerWindow),
      segmentEpsilon: finite(privacy.segmentEpsilon),
    },
    expectedGain:
      gain && finite(gain.contributorsPerWindow) !== null
        ? {
            contributorsPerWindow: finite(gain.contributorsPerWindow)!,
            shareOfCentralGain: finite(gain.shareOfCentralGain) ?? NaN,
            source: text(gain.source) ?? '',
          }
        : null,
    pacing: list(raw.pacing)
      .filter((p) => text(p.activity) !== null)
      .map((p) => ({
        activity: text(p.activity)!,
        metric: text(p.metric) ?? '–',
        perDay: count(p.perDay),
        todayCount: finite(p.todayCount),
        multiplier: finite(p.multiplier) ?? NaN,
      })),
  };
}
