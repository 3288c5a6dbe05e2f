/**
 * The dashboard's reading of the report and what it shows (client/report.ts, client/view.ts), in
 * Node: reports are built here from counts, the view must say what it suppresses and why a section
 * is empty, keep each chart's series and its table in step, and never throw on a hostile answer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseReport } from '../src/dashboard/client/report';
import { dashboardView, hourLabel, type SectionView } from '../src/dashboard/client/view';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 4, 4, 0);

/** A report as the server would send it when nothing has happened yet. */
function emptyReport(k = 20): Record<string, unknown> {
  return {
    generatedAt: T0,
    k,
    storage: 'pglite',
    signalsPerHour: [],
    activities: [],
    suppressedActivities: 0,
    lift: null,
    ope: { current: null, shadow: null },
    segments: null,
    lineage: { versions: [], promotions: [], rejections: [] },
    privacy: { epsilon: 8, delta: 1e-6, windowDays: 30, perContribution: { rho: 0.01, epsilon: 0.9 }, segmentEpsilon: null },
    expectedGain: null,
    pacing: [],
  };
}

/** Wilson-free normal interval, enough to build rows whose numbers the view must carry through. */
function rate(clicks: number, impressions: number) {
  const p = clicks / impressions;
  const h = 1.96 * Math.sqrt((p * (1 - p)) / impressions);
  return { ctr: p, ctrLow: Math.max(0, p - h), ctrHigh: Math.min(1, p + h) };
}

const section = (views: SectionView[], id: string) => views.find((v) => v.id === id)!;

describe('dashboard view', () => {
  it('an empty report: every section says why it is empty, with the k-threshold, and draws nothing', () => {
    const views = dashboardView(parseReport(emptyReport(25)));
    expect(views.map((v) => v.id)).toEqual(['signals', 'activities', 'lift', 'segments', 'lineage', 'privacy']);
    expect(views.every((v) => v.chart === null)).toBe(true);
    expect(section(views, 'signals').empty).toMatch(/No signals/);
    expect(section(views, 'activities').empty).toBe('No activity is seen in at least k = 25 batches yet.');
    expect(section(views, 'lift').empty).toMatch(/no holdout/);
    expect(section(views, 'segments').empty).toMatch(/defines no segments/);
    expect(section(views, 'lineage').empty).toMatch(/No model version/);
    const facts = Object.fromEntries(section(views, 'privacy').facts!);
    expect(facts['k-threshold']).toMatch(/^25 batches/);
    expect(facts['Budget per device and window']).toBe('ε = 8.00, δ = 1.00e-6, over 30 days');
    expect(facts['Expected gain at the observed population']).toMatch(/^not available/);
  });

  it('activities: sorted by CTR with their intervals; the suppressed ones are counted, never listed', () => {
    const counts = [
      ['coffee-house-2h', 30, 400],
      ['bar-1d', 5, 300],
      ['restaurant-20-50-1d', 12, 120],
    ] as const;
    const report = {
      ...emptyReport(20),
      activities: counts.map(([id, clicks, impressions]) => ({
        id,
        impressions,
        clicks,
        rewardRate: clicks / impressions,
        ...rate(clicks, impressions),
      })),
      suppressedActivities: 7,
    };
    const view = section(dashboardView(parseReport(report)), 'activities');
    expect(view.empty).toBeNull();
    expect(view.sentences).toEqual([
      '3 activities shown, each seen in at least k = 20 batches.',
      '7 activities seen in fewer than k = 20 batches are suppressed (not shown).',
    ]);
    expect(view.chart!.labels).toEqual(['restaurant-20-50-1d', 'coffee-house-2h', 'bar-1d']);
    expect(view.chart!.percent).toBe(true);
    const [interval, points] = view.chart!.series;
    expect(points.values).toEqual([12 / 120, 30 / 400, 5 / 300]);
    expect(interval.values[0]).toEqual([rate(12, 120).ctrLow, rate(12, 120).ctrHigh]);
    // The table holds the same rows (the chart's text alternative).
    const table = view.tables[0];
    expect(table.rows.map((r) => r[0])).toEqual(view.chart!.labels);
    expect(table.rows[0]).toEqual(['restaurant-20-50-1d', '120', '12', '10.00%', '4.63% – 15.37%', '10.00%']);
  });

  it('signals: the bucket width is told when events carry a coarse time', () => {
    const report = {
      ...emptyReport(),
      signalsPerHour: [0, 6, 12].map((h, i) => ({ hour: T0 + h * HOUR, batches: i + 1, events: 10 * (i + 1) })),
    };
    const view = section(dashboardView(parseReport(report)), 'signals');
    expect(view.sentences[0]).toBe(
      '60 events in 6 batches. Events carry a coarse time (6-hour buckets), so signals are counted per 6 hours.',
    );
    expect(view.chart!.labels).toEqual([hourLabel(T0), hourLabel(T0 + 6 * HOUR), hourLabel(T0 + 12 * HOUR)]);
    expect(view.chart!.labels[1]).toBe('2026-05-04 06:00 UTC');
    expect(view.chart!.series.map((s) => s.values)).toEqual([
      [10, 20, 30],
      [1, 2, 3],
    ]);
    expect(view.tables[0].rows).toHaveLength(3);
  });

  it('lift: relative, with its interval; only days with both arms above k are drawn', () => {
    const arm = (batches: number, clicks: number, impressions: number) => ({
      batches,
      impressions,
      clicks,
      ...rate(clicks, impressions),
      rewardRate: clicks / impressions,
      rewardLow: 0,
      rewardHigh: 1,
    });
    const report = {
      ...emptyReport(20),
      lift: {
        vitrine: arm(200, 90, 1000),
        control: arm(25, 7, 100),
        ctrLift: { estimate: 0.2857, low: -0.31, high: 1.4 },
        rewardLift: null,
        overTime: [
          { day: T0, vitrine: arm(100, 40, 500), control: arm(21, 3, 50), ctrLift: { estimate: 0.3333, low: -0.5, high: 2.5 } },
          { day: T0 + 24 * HOUR, vitrine: arm(100, 50, 500), control: { batches: null, suppressed: true }, ctrLift: null },
        ],
      },
    };
    const view = section(dashboardView(parseReport(report)), 'lift');
    expect(view.sentences).toEqual(['CTR lift (Vitrine ÷ control − 1): +28.6%, 95% interval −31.0% to +140.0%.']);
    expect(view.chart!.labels).toEqual(['2026-05-04']);
    expect(view.chart!.series.map((s) => s.role)).toEqual(['band-low', 'band-high', 'line']);
    expect(view.chart!.series.map((s) => s.values[0])).toEqual([-0.5, 2.5, 0.3333]);
    const [arms, daily] = view.tables;
    expect(arms.rows[1].slice(0, 5)).toEqual(['Control', '25', '100', '7', '7.00%']);
    expect(daily.rows[1]).toEqual(['2026-05-05', '10.00%', 'below k', '–', 'not available']);
  });

  it('lift without any day above k: the empty state names k and the arms are still tabulated', () => {
    const report = {
      ...emptyReport(20),
      lift: {
        vitrine: { batches: null, suppressed: true },
        control: { batches: null, suppressed: true },
        ctrLift: null,
        rewardLift: null,
        overTime: [],
      },
    };
    const view = section(dashboardView(parseReport(report)), 'lift');
    expect(view.chart).toBeNull();
    expect(view.empty).toMatch(/k = 20/);
    expect(view.sentences).toEqual(['No overall lift yet: the Vitrine arm and the control arm are below k = 20 batches.']);
    // The batch count of a suppressed arm is itself below k: it is not shown.
    expect(view.tables[0].rows[0]).toEqual(['Vitrine', 'below k', '–', '–', '–', '–', '–', '–']);
  });

  it('segments: k-anonymous cells only, suppressed ones counted; an empty state when none is above k', () => {
    const rows = [
      { segment: 1, name: 'coffee lovers', activity: 'coffee-house-2h', impressions: 80, clicks: 12, ctr: 0.15, low: 0.07, high: 0.23 },
      { segment: 0, name: 'new', activity: 'bar-1d', impressions: 60, clicks: 3, ctr: 0.05, low: 0, high: 0.11 },
    ];
    const withRows = section(
      dashboardView(parseReport({ ...emptyReport(20), segments: { policyVersion: 3, epsilon: 2, rows, suppressed: 5 } })),
      'segments',
    );
    expect(withRows.chart!.labels).toEqual(['coffee lovers · coffee-house-2h', 'new · bar-1d']);
    expect(withRows.sentences[1]).toBe('5 segment × activity cells below k = 20 are suppressed.');
    expect(withRows.sentences[0]).toMatch(/randomized response \(ε = 2\.00\)/);
    const none = section(
      dashboardView(parseReport({ ...emptyReport(20), segments: { policyVersion: 3, epsilon: 2, rows: [], suppressed: 9 } })),
      'segments',
    );
    expect(none.chart).toBeNull();
    expect(none.empty).toBe('No segment × activity count is above k = 20 yet.');
    expect(none.sentences[1]).toMatch(/^9 segment × activity cells/);
  });

  it('lineage: versions, OPE of current and shadow, decisions with their evidence as columns', () => {
    const report = {
      ...emptyReport(),
      ope: { current: { version: 'v2', ipw: 0.1, snipw: 0.11, low: 0.05, high: 0.15, ess: 120.5 }, shadow: null },
      lineage: {
        versions: [
          { version: 'v2', parent: 'v1', publishedAt: T0 + HOUR, status: 'current' },
          { version: 'v1', parent: null, publishedAt: T0, status: 'retired' },
        ],
        promotions: [{ at: T0 + HOUR, shadow: 'v2', current: 'v1', decision: 'promoted', report: { events: 40, differenceLower: 0.012 } }],
        rejections: [],
      },
    };
    const view = section(dashboardView(parseReport(report)), 'lineage');
    expect(view.empty).toBeNull();
    expect(view.sentences).toEqual(['2 versions, 1 promotion, 0 rejections.']);
    const [versions, ope, promotions] = view.tables;
    expect(versions.rows[1]).toEqual(['v1', '– (seed)', '2026-05-04 00:00:00 UTC', 'retired']);
    expect(ope.rows).toEqual([['current', 'v2', '0.1000', '0.1100', '0.0500 – 0.1500', '120.5']]);
    expect(promotions.columns).toEqual(['at', 'shadow', 'current', 'decision', 'events', 'differenceLower']);
    expect(promotions.rows[0]).toEqual(['2026-05-04 01:00:00 UTC', 'v2', 'v1', 'promoted', '40', '0.0120']);
  });

  it('never throws on a hostile or partial answer: either "not a report" or a view', () => {
    expect(() => parseReport(null)).toThrow(/not answer with a report/);
    expect(() => parseReport({ error: 'internal error' })).toThrow(/not answer with a report/);
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), fc.jsonValue(), (a, b, c) => {
        const raw = { ...emptyReport(), activities: a, lift: b, lineage: c, segments: b, signalsPerHour: c, pacing: a };
        const views = dashboardView(parseReport(raw));
        for (const v of views) {
          if (v.chart) for (const s of v.chart.series) expect(s.values).toHaveLength(v.chart.labels.length);
          for (const t of v.tables) for (const row of t.rows) expect(row).toHaveLength(t.columns.length);
        }
      }),
      { numRuns: 300 },
    );
  });
});
