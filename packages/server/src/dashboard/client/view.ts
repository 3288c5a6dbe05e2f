/**
 * Owns what the dashboard shows, as data: each section's heading, sentences, chart (series and
 * axis) and tables, from a parsed report. No DOM and no Chart.js here, so it is unit-tested in
 * Node; client/main.ts only draws it. Every chart has a text alternative (its table and a one-line
 * summary) and an empty state that says why there is nothing to draw.
 */
import type { AdminReport, ArmStats, Decision, Interval } from './report';

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
  const suppressed = rows.filter((x) => x.suppressed).length;
  const bucket = r.signalsBucketHours ?? inferBucketHours(rows.map((x) => x.hour));
  const per = bucket > 1 ? `${bucket} hours` : 'hour';
  const labels = rows.map((x) => hourLabel(x.hour));
  const base = { id: 'signals', title: 'Signals per hour' };
  const verb = suppressed === 1 ? 'is' : 'are';
  const hidden =
    suppressed > 0 ? [`${plural(suppressed, 'hour')} with fewer than k = ${r.k} batches ${verb} suppressed (not counted here).`] : [];
  if (events === 0 && batches === 0) {
    const empty = rows.length ? `No hour of the last ${plural(rows.length, 'hour')} has k = ${r.k} batches or more.` : 'No signals yet.';
    return {
      ...base,
      sentences: hidden,
      chart: null,
      empty: suppressed ? empty : 'No signals arrived in the period the report covers.',
      tables: [],
    };
  }
  const span = rows.length ? ` over the last ${plural(rows.length * bucket, 'hour')}` : '';
  const bucketNote = bucket > 1 ? ` Signals are counted per ${bucket} hours.` : '';
  // The table lists the hours that had signals (the chart shows every hour, empty ones at zero).
  const active = rows.filter((x) => x.batches > 0 || x.suppressed);
  return {
    ...base,
    sentences: [`${plural(events, 'event')} in ${plural(batches, 'batch', 'batches')}${span}.${bucketNote}`, ...hidden],
    chart: {
      alt: `Bar chart of signal events and batches per ${per}, ${labels[0]} to ${labels.at(-1)}.`,
      labels,
      series: [
        { label: 'Events', role: 'bars', values: rows.map((x) => (x.suppressed ? null : x.events)) },
        { label: 'Batches', role: 'bars', values: rows.map((x) => (x.suppressed ? null : x.batches)) },
      ],
      yTitle: 'Count',
      percent: false,
    },
    empty: null,
    tables: [
      {
        caption: `Signals per ${per} (UTC), hours without signals left out`,
        columns: ['Hour', 'Batches', 'Events'],
        numeric: [false, true, true],
        rows: active.map((x) => [hourLabel(x.hour), x.suppressed ? 'below k' : int(x.batches), x.suppressed ? 'below k' : int(x.events)]),
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
        columns: ['Activity', 'Batches', 'Impressions', 'Clicks', 'CTR', '95% interval', 'Reward rate'],
        numeric: [false, true, true, true, true, false, true],
        rows: rows.map((a) => [
          a.id,
          int(a.batches),
          int(a.impressions),
          int(a.clicks),
          pct(a.ctr),
          ci(a.ctrLow, a.ctrHigh),
          pct(a.rewardRate),
        ]),
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
    // A band needs two days; one day's interval is drawn as a bar around its point.
    chart: {
      alt: `Daily relative CTR lift of Vitrine over control with its 95% ${days.length > 1 ? 'band' : 'interval'}, ${plural(
        days.length,
        'day',
      )}.`,
      labels: days.map((d) => dayLabel(d.day)),
      series:
        days.length > 1
          ? [
              { label: '95% low', role: 'band-low', values: days.map((d) => d.ctrLift!.low) },
              { label: '95% band', role: 'band-high', values: days.map((d) => d.ctrLift!.high) },
              { label: 'CTR lift', role: 'line', values: days.map((d) => d.ctrLift!.estimate) },
            ]
          : [
              { label: '95% interval', role: 'interval', values: days.map((d) => [d.ctrLift!.low, d.ctrLift!.high] as [number, number]) },
              { label: 'CTR lift', role: 'points', values: days.map((d) => d.ctrLift!.estimate) },
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
    s.reports == null
      ? `Fewer than k = ${r.k} segment reports so far (a device reports its segment only with a model update).`
      : `${plural(s.reports, 'segment report')} read.`,
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

const when = (x: number | string | null): string => {
  const ms = typeof x === 'number' ? x : typeof x === 'string' ? Date.parse(x) : NaN;
  return Number.isFinite(ms) ? `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC` : '–';
};

/** Decisions of the promotion check with their evidence: the shadow's IPW value against the current one's, on the same logs. */
function decisionsTable(caption: string, decisions: Decision[]): TableView {
  return {
    caption,
    columns: [
      'Decided',
      'Shadow',
      'Against',
      'Decision',
      'Events (networks)',
      'Current value',
      'Shadow value (IPW, 95%)',
      'Δ lower bound',
      'ESS',
      'Why',
    ],
    numeric: [false, false, false, false, true, true, false, true, true, false],
    rows: decisions.map((d) => [
      when(d.at),
      d.shadow,
      d.current,
      d.decision,
      d.events == null ? '–' : `${int(d.events)} (${int(d.networks)})`,
      num(d.currentValue),
      d.shadowValue == null ? '–' : `${num(d.shadowValue)}${d.shadowCi ? ` [${num(d.shadowCi[0])}, ${num(d.shadowCi[1])}]` : ''}`,
      num(d.differenceLower),
      num(d.effectiveSampleSize, 1),
      d.reason || '–',
    ]),
  };
}

export function lineageSection(r: AdminReport): SectionView {
  const base = { id: 'lineage', title: 'Rounds and model lineage' };
  const { versions, promotions, rejections } = r.lineage;
  const tables: TableView[] = [];
  if (versions.length) {
    tables.push({
      caption: 'Model versions, newest first',
      columns: ['Version', 'Parent', 'Round', 'Published', 'Promoted', 'Status'],
      numeric: [false, false, true, false, false, false],
      rows: versions.map((v) => [
        v.version,
        v.parent ?? '– (seed)',
        v.round == null ? '–' : String(v.round),
        when(v.publishedAt),
        when(v.promotedAt),
        v.status,
      ]),
    });
  }
  const opeRows = (['current', 'shadow'] as const).flatMap((role) => (r.ope?.[role] ? [[role, r.ope[role]!] as const] : []));
  if (opeRows.length) {
    tables.push({
      caption: 'Off-policy estimates of the current and shadow models, on the same logs',
      columns: ['Model', 'Version', 'Events (batches)', 'IPW', 'SNIPW', 'SNIPW 95%', 'ESS', 'Warnings'],
      numeric: [false, false, true, true, true, false, true, false],
      rows: opeRows.map(([role, o]) => [
        role,
        o.version,
        o.events == null ? '–' : `${int(o.events)} (${int(o.batches)})`,
        num(o.ipw),
        num(o.snipw),
        o.low == null || o.high == null ? '–' : `${num(o.low)} – ${num(o.high)}${o.interval === 'bootstrap' ? ' (bootstrap)' : ''}`,
        num(o.ess, 1),
        o.warnings.length ? o.warnings.join('; ') : 'none',
      ]),
    });
  }
  if (promotions.length) tables.push(decisionsTable('Promotions, with their off-policy evidence', promotions));
  if (rejections.length) tables.push(decisionsTable('Rejections, with their off-policy evidence', rejections));
  const sentences = [
    `${plural(versions.length, 'version')}, ${plural(promotions.length, 'promotion')}, ${plural(rejections.length, 'rejection')}.`,
    ...(opeRows.length ? [] : [`No off-policy estimate yet: it needs the events of at least k = ${r.k} batches.`]),
  ];
  return { ...base, sentences, chart: null, empty: versions.length ? null : 'No model version is recorded yet.', tables };
}

export function privacySection(r: AdminReport): SectionView {
  const base = { id: 'privacy', title: 'Privacy budget and expected gain' };
  const p = r.privacy;
  const facts: [string, string][] = [];
  if (p) {
    facts.push(['Budget per device and window', `ε = ${num(p.epsilon, 2)}, δ = ${num(p.delta)}, over ${int(p.windowDays)} days`]);
    const fits = p.contributionsPerWindow == null ? '' : `; ${plural(p.contributionsPerWindow, 'contribution')} per device fit the window`;
    facts.push(['Each contribution', `ρ = ${num(p.perContribution.rho)} (zCDP), ε = ${num(p.perContribution.epsilon, 3)}${fits}`]);
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
      ? `${plural(g.contributorsPerWindow, 'contributor')} per window: ${pct(g.shareOfCentralGain, 0)} of the gain of central training` +
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
