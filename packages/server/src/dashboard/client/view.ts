/**
 * Owns what the dashboard shows, as data: each section's heading, sentences, chart (series and
 * axis) and tables, from a parsed report. No DOM and no Chart.js here, so it is unit-tested in
 * Node; client/main.ts only draws it. Every chart has a text alternative (its table and a one-line
 * summary) and an empty state that says why there is nothing to draw.
 */
import type { AdminReport, ArmStats, Interval } from './report';

export interface Series {
  label: string;
  /** 'interval': floating bars [low, high]; 'band': the area between the two previous-next low/high series. */
  role: 'bars' | 'points' | 'line' | 'interval' | 'band-low' | 'band-high';
  values: (number | [number, number] | null)[];
}

export interface ChartView {
  /** A short description of what the chart shows (the canvas' accessible name). */
  alt: string;
  labels: string[];
  series: Series[];
  yTitle: string;
  /** Values are proportions, shown as percentages. */
  percent: boolean;
}

export interface TableView {
  caption: string;
  columns: string[];
  /** Which columns hold numbers (right-aligned). */
  numeric: boolean[];
  rows: string[][];
}

export interface SectionView {
  id: string;
  title: string;
  sentences: string[];
  chart: ChartView | null;
  /** Why there is no chart or table (shown instead); null when there is data. */
  empty: string | null;
  tables: TableView[];
  /** Key facts as a definition list (privacy budget, expected gain). */
  facts?: [string, string][];
}

export const pct = (x: number | null | undefined, digits = 2): string =>
  x == null || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(digits)}%`;
export const int = (n: number | null | undefined): string =>
  n == null || !Number.isFinite(n) ? '–' : Math.round(n).toLocaleString('en-US');
export const num = (x: number | null | undefined, digits = 4): string =>
  x == null || !Number.isFinite(x) ? '–' : Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : x.toFixed(digits);
/** UTC, to the hour: "2026-05-04 13:00 UTC". */
export const hourLabel = (ms: number): string => `${new Date(ms).toISOString().slice(0, 13).replace('T', ' ')}:00 UTC`;
export const dayLabel = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const ci = (low: number | null, high: number | null) => (low == null || high == null ? '–' : `${pct(low)} – ${pct(high)}`);
const plural = (n: number, one: string, many = `${one}s`) => `${int(n)} ${n === 1 ? one : many}`;

export function signalsSection(r: AdminReport): SectionView {
  const rows = r.signalsPerHour;
  const events = rows.reduce((a, x) => a + x.events, 0);
  const batches = rows.reduce((a, x) => a + x.batches, 0);
  const bucket = r.signalsBucketHours ?? inferBucketHours(rows.map((x) => x.hour));
  const labels = rows.map((x) => hourLabel(x.hour));
  const base = { id: 'signals', title: 'Signals per hour' };
  if (events === 0 && batches === 0) {
    return { ...base, sentences: [], chart: null, empty: 'No signals arrived in the period the report covers.', tables: [] };
  }
  const bucketNote = bucket > 1 ? ` Events carry a coarse time (${bucket}-hour buckets), so signals are counted per ${bucket} hours.` : '';
  return {
    ...base,
    sentences: [`${plural(events, 'event')} in ${plural(batches, 'batch', 'batches')}.${bucketNote}`],
    chart: {
      alt: `Bar chart of signal events and batches per ${bucket > 1 ? `${bucket} hours` : 'hour'}, ${labels[0]} to ${labels.at(-1)}.`,
      labels,
      series: [
        { label: 'Events', role: 'bars', values: rows.map((x) => x.events) },
        { label: 'Batches', role: 'bars', values: rows.map((x) => x.batches) },
      ],
      yTitle: 'Count',
      percent: false,
    },
    empty: null,
    tables: [
      {
        caption: 'Signals per time bucket (UTC)',
        columns: ['Bucket start', 'Batches', 'Events'],
        numeric: [false, true, true],
        rows: rows.map((x) => [hourLabel(x.hour), int(x.batches), int(x.events)]),
      },
    ],
  };
}

/** The smallest gap between consecutive buckets, in hours (1 when it cannot be told). */
function inferBucketHours(hours: number[]): number {
  let gap = Infinity;
  for (let i = 1; i < hours.length; i++) gap = Math.min(gap, hours[i] - hours[i - 1]);
  return Number.isFinite(gap) && gap > 0 ? Math.max(1, Math.round(gap / 3_600_000)) : 1;
}

export function activitiesSection(r: AdminReport): SectionView {
  const rows = [...r.activities].sort((a, b) => b.ctr - a.ctr || a.id.localeCompare(b.id));
  const suppressed =
    r.suppressedActivities > 0
      ? `${plural(r.suppressedActivities, 'activity', 'activities')} seen in fewer than k = ${r.k} batches ` +
        `${r.suppressedActivities === 1 ? 'is' : 'are'} suppressed (not shown).`
      : `No activity is suppressed (every activity seen is in at least k = ${r.k} batches).`;
  const base = { id: 'activities', title: 'Click-through rate per activity (95% intervals)' };
  if (rows.length === 0) {
    return { ...base, sentences: [suppressed], chart: null, empty: `No activity is seen in at least k = ${r.k} batches yet.`, tables: [] };
  }
  return {
    ...base,
    sentences: [`${plural(rows.length, 'activity', 'activities')} shown, each seen in at least k = ${r.k} batches.`, suppressed],
    chart: {
      alt:
        `Click-through rate of ${plural(rows.length, 'activity', 'activities')}, ` +
        'each with its 95% interval as a bar and its estimate as a point.',
      labels: rows.map((a) => a.id),
      series: [
        { label: '95% interval', role: 'interval', values: rows.map((a) => [a.ctrLow, a.ctrHigh] as [number, number]) },
        { label: 'CTR', role: 'points', values: rows.map((a) => a.ctr) },
      ],
      yTitle: 'Click-through rate',
      percent: true,
    },
    empty: null,
    tables: [
      {
        caption: `Activities seen in at least k = ${r.k} batches`,
        columns: ['Activity', 'Impressions', 'Clicks', 'CTR', '95% interval', 'Reward rate'],
        numeric: [false, true, true, true, false, true],
        rows: rows.map((a) => [a.id, int(a.impressions), int(a.clicks), pct(a.ctr), ci(a.ctrLow, a.ctrHigh), pct(a.rewardRate)]),
      },
    ],
  };
}

function armRow(name: string, a: ArmStats | null): string[] {
  // A suppressed arm's numbers (its batch count included) are not released: only "below k" is said.
  if (!a || a.suppressed) return [name, 'below k', '–', '–', '–', '–', '–', '–'];
  return [
    name,
    int(a.batches),
    int(a.impressions),
    int(a.clicks),
    pct(a.ctr),
    ci(a.ctrLow, a.ctrHigh),
    pct(a.rewardRate),
    ci(a.rewardLow, a.rewardHigh),
  ];
}

/** A relative change with its sign: +12.5%, −3.0%. */
const rel = (x: number | null | undefined) =>
  x == null || !Number.isFinite(x) ? '–' : `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)}%`;

const liftText = (what: string, x: Interval | null) =>
  x ? `${what} lift (Vitrine ÷ control − 1): ${rel(x.estimate)}, 95% interval ${rel(x.low)} to ${rel(x.high)}.` : null;

const belowK = (a: ArmStats | null) => !a || a.suppressed === true;

export function liftSection(r: AdminReport): SectionView {
  const base = { id: 'lift', title: 'Lift against the control arm' };
  const lift = r.lift;
  if (!lift) return { ...base, sentences: [], chart: null, empty: 'The server reports no holdout.', tables: [] };
  const days = lift.overTime.filter((d) => d.ctrLift !== null);
  const sentences = [liftText('CTR', lift.ctrLift), liftText('Reward', lift.rewardLift)].filter((s): s is string => s !== null);
  if (!lift.ctrLift) {
    const low = [belowK(lift.vitrine) && 'the Vitrine arm', belowK(lift.control) && 'the control arm'].filter(Boolean);
    sentences.push(
      low.length
        ? `No overall lift yet: ${low.join(' and ')} ${low.length === 1 ? 'is' : 'are'} below k = ${r.k} batches.`
        : 'No overall lift yet: an arm has no click, so the ratio of click-through rates is not defined.',
    );
  }
  const arms: TableView = {
    caption: 'Arms: Vitrine (personalized) and control (holdout)',
    columns: ['Arm', 'Batches', 'Impressions', 'Clicks', 'CTR', 'CTR 95%', 'Reward rate', 'Reward 95%'],
    numeric: [false, true, true, true, true, false, true, false],
    rows: [armRow('Vitrine', lift.vitrine), armRow('Control', lift.control)],
  };
  const daily: TableView = {
    caption: 'Lift per day (UTC)',
    columns: ['Day', 'Vitrine CTR', 'Control CTR', 'CTR lift', '95% interval'],
    numeric: [false, true, true, true, false],
    rows: lift.overTime.map((d) => [
      dayLabel(d.day),
      belowK(d.vitrine) ? 'below k' : pct(d.vitrine?.ctr),
      belowK(d.control) ? 'below k' : pct(d.control?.ctr),
      rel(d.ctrLift?.estimate),
      d.ctrLift ? `${rel(d.ctrLift.low)} to ${rel(d.ctrLift.high)}` : 'not available',
    ]),
  };
  if (days.length === 0) {
    return {
      ...base,
      sentences,
      chart: null,
      empty: `No day has a lift yet (each needs both arms in at least k = ${r.k} batches, with clicks), so there is nothing to draw.`,
      tables: [arms, ...(daily.rows.length ? [daily] : [])],
    };
  }
  return {
    ...base,
    sentences,
    chart: {
      alt: `Daily relative CTR lift of Vitrine over control with its 95% band, ${plural(days.length, 'day')}.`,
      labels: days.map((d) => dayLabel(d.day)),
      series: [
        { label: '95% low', role: 'band-low', values: days.map((d) => d.ctrLift!.low) },
        { label: '95% band', role: 'band-high', values: days.map((d) => d.ctrLift!.high) },
        { label: 'CTR lift', role: 'line', values: days.map((d) => d.ctrLift!.estimate) },
      ],
      yTitle: 'CTR lift (Vitrine ÷ control − 1)',
      percent: true,
    },
    empty: null,
    tables: [arms, daily],
  };
}

export function segmentsSection(r: AdminReport): SectionView {
  const base = { id: 'segments', title: 'Click-through rate per segment (k-anonymous)' };
  const s = r.segments;
  if (!s) return { ...base, sentences: [], chart: null, empty: 'The policy in force defines no segments.', tables: [] };
  const eps =
    s.epsilon == null ? '' : ` Devices report their segment by randomized response (ε = ${num(s.epsilon, 2)}); counts are debiased.`;
  const sentences = [
    `Policy ${s.policyVersion}.${eps}`,
    s.suppressed > 0
      ? `${plural(s.suppressed, 'segment × activity cell', 'segment × activity cells')} below k = ${r.k} ` +
        `${s.suppressed === 1 ? 'is' : 'are'} suppressed.`
      : `No segment × activity cell is suppressed.`,
  ];
  if (s.rows.length === 0) {
    return { ...base, sentences, chart: null, empty: `No segment × activity count is above k = ${r.k} yet.`, tables: [] };
  }
  const rows = [...s.rows].sort((a, b) => a.name.localeCompare(b.name) || a.activity.localeCompare(b.activity));
  return {
    ...base,
    sentences,
    chart: {
      alt: `Click-through rate per segment and activity with 95% intervals, ${plural(rows.length, 'cell')} above k = ${r.k}.`,
      labels: rows.map((x) => `${x.name} · ${x.activity}`),
      series: [
        { label: '95% interval', role: 'interval', values: rows.map((x) => [x.low, x.high] as [number, number]) },
        { label: 'CTR', role: 'points', values: rows.map((x) => x.ctr) },
      ],
      yTitle: 'Click-through rate',
      percent: true,
    },
    empty: null,
    tables: [
      {
        caption: `Segment × activity cells above k = ${r.k}`,
        columns: ['Segment', 'Activity', 'Impressions', 'Clicks', 'CTR', '95% interval'],
        numeric: [false, false, true, true, true, false],
        rows: rows.map((x) => [x.name, x.activity, int(x.impressions), int(x.clicks), pct(x.ctr), ci(x.low, x.high)]),
      },
    ],
  };
}

const when = (x: unknown): string => {
  if (typeof x === 'number' && Number.isFinite(x)) return new Date(x).toISOString().slice(0, 19).replace('T', ' ') + ' UTC';
  if (typeof x === 'string' && !Number.isNaN(Date.parse(x)))
    return new Date(Date.parse(x)).toISOString().slice(0, 19).replace('T', ' ') + ' UTC';
  return x == null ? '–' : String(x);
};

/** A cell for a value of unknown shape: numbers kept short, objects as compact JSON. */
function cell(x: unknown): string {
  if (x == null) return '–';
  if (typeof x === 'number') return Number.isInteger(x) ? int(x) : num(x);
  if (typeof x === 'string') return x;
  if (typeof x === 'boolean') return x ? 'yes' : 'no';
  return JSON.stringify(x);
}

/** A table of decision records: the columns every record has first, in the server's order. */
function decisionsTable(caption: string, records: Record<string, unknown>[]): TableView {
  const flat = records.map((rec) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rec)) {
      // One level of nesting (e.g. the stored report, the OPE evidence) becomes its own columns.
      if (typeof v === 'object' && v !== null && !Array.isArray(v))
        for (const [k2, v2] of Object.entries(v)) out[k2 in rec ? `${k}.${k2}` : k2] ??= v2;
      else out[k] = v;
    }
    return out;
  });
  const columns: string[] = [];
  for (const rec of flat) for (const k of Object.keys(rec)) if (!columns.includes(k)) columns.push(k);
  return {
    caption,
    columns,
    numeric: columns.map((c) => flat.every((rec) => rec[c] == null || typeof rec[c] === 'number')),
    rows: flat.map((rec) => columns.map((c) => (/^(at|decidedAt|publishedAt|createdAt)$/.test(c) ? when(rec[c]) : cell(rec[c])))),
  };
}

export function lineageSection(r: AdminReport): SectionView {
  const base = { id: 'lineage', title: 'Rounds and model lineage' };
  const { versions, promotions, rejections } = r.lineage;
  const tables: TableView[] = [];
  if (versions.length) {
    tables.push({
      caption: 'Model versions, newest first',
      columns: ['Version', 'Parent', 'Published', 'Status'],
      numeric: [false, false, false, false],
      rows: versions.map((v) => [v.version, v.parent ?? '– (seed)', when(v.publishedAt), v.status]),
    });
  }
  const opeRows = [r.ope?.current && ['current', r.ope.current], r.ope?.shadow && ['shadow', r.ope.shadow]].filter(
    (x): x is [string, NonNullable<NonNullable<AdminReport['ope']>['current']>] => Boolean(x),
  );
  if (opeRows.length) {
    tables.push({
      caption: 'Off-policy estimates of the current and shadow models (from the same logs)',
      columns: ['Role', 'Version', 'IPW', 'SNIPW', '95% interval', 'Effective sample size'],
      numeric: [false, false, true, true, false, true],
      rows: opeRows.map(([role, o]) => [
        role,
        o.version,
        num(o.ipw),
        num(o.snipw),
        o.low == null ? '–' : `${num(o.low)} – ${num(o.high)}`,
        num(o.ess, 1),
      ]),
    });
  }
  if (promotions.length) tables.push(decisionsTable('Promotions, with their off-policy evidence', promotions));
  if (rejections.length) tables.push(decisionsTable('Rejections, with their off-policy evidence', rejections));
  const sentences = [
    `${plural(versions.length, 'version')}, ${plural(promotions.length, 'promotion')}, ${plural(rejections.length, 'rejection')}.`,
  ];
  return { ...base, sentences, chart: null, empty: versions.length ? null : 'No model version is recorded yet.', tables };
}

export function privacySection(r: AdminReport): SectionView {
  const base = { id: 'privacy', title: 'Privacy budget and expected gain' };
  const p = r.privacy;
  const facts: [string, string][] = [];
  if (p) {
    facts.push(['Budget per device and window', `ε = ${num(p.epsilon, 2)}, δ = ${num(p.delta)}, over ${int(p.windowDays)} days`]);
    facts.push(['Each contribution', `ρ = ${num(p.perContribution.rho)} (zCDP), ε = ${num(p.perContribution.epsilon, 3)}`]);
    facts.push([
      'Segment report',
      p.segmentEpsilon == null ? 'none (no segments reported)' : `ε = ${num(p.segmentEpsilon, 2)}, included in ρ`,
    ]);
  }
  facts.push(['k-threshold', `${int(r.k)} batches: no per-activity or per-segment count below it leaves the server`]);
  const g = r.expectedGain;
  facts.push([
    'Expected gain at the observed population',
    g
      ? `${int(g.contributorsPerWindow)} contributors per window: ${pct(g.shareOfCentralGain, 0)} of the gain of central training` +
        (g.source ? ` (${g.source})` : '')
      : 'not available (no measured gain curve shipped with the model, or no contributors yet)',
  ]);
  const pacing: TableView[] = r.pacing.length
    ? [
        {
          caption: 'Pacing budgets in force today (UTC)',
          columns: ['Activity', 'Metric', 'Budget per day', 'Today', 'Multiplier'],
          numeric: [false, false, true, true, true],
          rows: r.pacing.map((x) => [
            x.activity,
            x.metric,
            int(x.perDay),
            x.todayCount == null ? 'below k' : int(x.todayCount),
            num(x.multiplier, 3),
          ]),
        },
      ]
    : [];
  return {
    ...base,
    sentences: p ? [] : ['The server reports no privacy parameters.'],
    chart: null,
    empty: null,
    tables: pacing,
    facts,
  };
}

/** Every section of the page, in order. */
export function dashboardView(r: AdminReport): SectionView[] {
  return [signalsSection(r), activitiesSection(r), liftSection(r), segmentsSection(r), lineageSection(r), privacySection(r)];
}
