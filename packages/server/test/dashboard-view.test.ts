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
        batches: impressions / 4,
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
    expect(table.rows[0]).toEqual(['restaurant-20-50-1d', '30', '120', '12', '10.00%', '4.63% – 15.37%', '10.00%']);
  });

  it('signals: hours below k are suppressed (said, never counted); the table lists the hours with signals', () => {
    const hours = [
      { hour: T0, batches: 0, events: 0, suppressed: false },
      { hour: T0 + HOUR, batches: null, events: null, suppressed: true },
      { hour: T0 + 2 * HOUR, batches: 25, events: 140, suppressed: false },
      { hour: T0 + 3 * HOUR, batches: 31, events: 150, suppressed: false },
    ];
    const view = section(dashboardView(parseReport({ ...emptyReport(20), signalsPerHour: hours })), 'signals');
    expect(view.sentences).toEqual([
      '290 events in 56 batches over the last 4 hours.',
      '1 hour with fewer than k = 20 batches is suppressed (not counted here).',
    ]);
    expect(view.chart!.labels).toEqual(hours.map((h) => hourLabel(h.hour)));
    expect(view.chart!.labels[1]).toBe('2026-05-04 01:00 UTC');
    expect(view.chart!.series.map((s) => s.values)).toEqual([
      [0, null, 140, 150],
      [0, null, 25, 31],
    ]);
    expect(view.tables[0].rows).toEqual([
      ['2026-05-04 01:00 UTC', 'below k', 'below k'],
      ['2026-05-04 02:00 UTC', '25', '140'],
      ['2026-05-04 03:00 UTC', '31', '150'],
    ]);
    // Only suppressed hours: nothing to draw, and the empty state says why.
    const hiddenOnly = section(dashboardView(parseReport({ ...emptyReport(20), signalsPerHour: hours.slice(0, 2) })), 'signals');
    expect(hiddenOnly.chart).toBeNull();
    expect(hiddenOnly.empty).toBe('No hour of the last 2 hours has k = 20 batches or more.');
  });

  it('signals: the bucket width is told when the server counts per several hours', () => {
    const report = {
      ...emptyReport(),
      signalsPerHour: [0, 6, 12].map((h, i) => ({ hour: T0 + h * HOUR, batches: i + 1, events: 10 * (i + 1) })),
    };
    const view = section(dashboardView(parseReport(report)), 'signals');
    expect(view.sentences[0]).toBe('60 events in 6 batches over the last 18 hours. Signals are counted per 6 hours.');
    expect(view.chart!.alt).toMatch(/per 6 hours/);
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
          { day: T0 + 48 * HOUR, vitrine: arm(90, 45, 450), control: arm(30, 4, 60), ctrLift: { estimate: 0.5, low: -0.2, high: 1.8 } },
        ],
      },
    };
    const view = section(dashboardView(parseReport(report)), 'lift');
    expect(view.sentences).toEqual(['CTR lift (Vitrine ÷ control − 1): +28.6%, 95% interval −31.0% to +140.0%.']);
    // The day without a lift (control below k) is in the table, not on the chart.
    expect(view.chart!.labels).toEqual(['2026-05-04', '2026-05-06']);
    expect(view.chart!.series.map((s) => s.role)).toEqual(['band-low', 'band-high', 'line']);
    expect(view.chart!.series.map((s) => s.values)).toEqual([
      [-0.5, -0.2],
      [2.5, 1.8],
      [0.3333, 0.5],
    ]);
    // One day only: no band can be drawn from one point, so its interval is a bar around the point.
    const oneDay = { ...report, lift: { ...report.lift, overTime: report.lift.overTime.slice(0, 1) } };
    const single = section(dashboardView(parseReport(oneDay)), 'lift');
    expect(single.chart!.series.map((s) => [s.role, s.values])).toEqual([
      ['interval', [[-0.5, 2.5]]],
      ['points', [0.3333]],
    ]);
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
      dashboardView(parseReport({ ...emptyReport(20), segments: { policyVersion: 3, epsilon: 2, rows, suppressed: 5, reports: 41 } })),
      'segments',
    );
    expect(withRows.chart!.labels).toEqual(['coffee lovers · coffee-house-2h', 'new · bar-1d']);
    expect(withRows.sentences.slice(1)).toEqual(['41 segment reports read.', '5 segment × activity cells below k = 20 are suppressed.']);
    expect(withRows.sentences[0]).toMatch(/randomized response \(ε = 2\.00\)/);
    const none = section(
      dashboardView(
        parseReport({ ...emptyReport(20), segments: { policyVersion: 3, epsilon: 2, rows: [], suppressed: 9, reports: null } }),
      ),
      'segments',
    );
    expect(none.chart).toBeNull();
    expect(none.empty).toBe('No segment × activity count is above k = 20 yet.');
    expect(none.sentences[1]).toMatch(/^Fewer than k = 20 segment reports so far/);
    expect(none.sentences[2]).toMatch(/^9 segment × activity cells/);
  });

  it('lineage: versions, OPE of current and shadow, decisions with their off-policy evidence', () => {
    const decision = {
      at: T0 + HOUR,
      shadow: 'v2',
      current: 'v1',
      decision: 'promoted',
      reason: 'shadow - current >= -0.0100 at 95% (margin 0.01)',
      events: 40,
      networks: 21,
      currentValue: 0.1,
      shadowValue: 0.125,
      shadowCi: [0.08, 0.17],
      differenceLower: 0.012,
      effectiveSampleSize: 33.25,
    };
    const report = {
      ...emptyReport(),
      ope: {
        current: {
          version: 'v2',
          events: 400,
          batches: 90,
          ipw: 0.1,
          snipw: 0.11,
          low: 0.05,
          high: 0.15,
          interval: 'normal',
          ess: 120.5,
          warnings: [],
        },
        shadow: null,
      },
      lineage: {
        versions: [
          { version: 'v2', parent: 'v1', round: 1, publishedAt: T0 + HOUR, promotedAt: T0 + 2 * HOUR, status: 'current' },
          { version: 'v1', parent: null, round: null, publishedAt: T0, promotedAt: T0, status: 'retired' },
        ],
        promotions: [decision],
        rejections: [{ ...decision, decision: 'replaced', events: null, networks: null, shadowValue: null, shadowCi: null }],
      },
    };
    const view = section(dashboardView(parseReport(report)), 'lineage');
    expect(view.empty).toBeNull();
    expect(view.sentences).toEqual(['2 versions, 1 promotion, 1 rejection.']);
    const [versions, ope, promotions, rejections] = view.tables;
    expect(versions.rows).toEqual([
      ['v2', 'v1', '1', '2026-05-04 01:00 UTC', '2026-05-04 02:00 UTC', 'current'],
      ['v1', '– (seed)', '–', '2026-05-04 00:00 UTC', '2026-05-04 00:00 UTC', 'retired'],
    ]);
    expect(ope.rows).toEqual([['current', 'v2', '400 (90)', '0.1000', '0.1100', '0.0500 – 0.1500', '120.5', 'none']]);
    expect(promotions.rows[0]).toEqual([
      '2026-05-04 01:00 UTC',
      'v2',
      'v1',
      'promoted',
      '40 (21)',
      '0.1000',
      '0.1250 [0.0800, 0.1700]',
      '0.0120',
      '33.3',
      'shadow - current >= -0.0100 at 95% (margin 0.01)',
    ]);
    expect(rejections.rows[0].slice(3, 7)).toEqual(['replaced', '–', '0.1000', '–']);
    expect(promotions.rows[0]).toHaveLength(promotions.columns.length);
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
