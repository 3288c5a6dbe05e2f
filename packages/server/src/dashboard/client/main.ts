/**
 * The dashboard page's script (bundled with Chart.js by dashboard/assets.ts): reads
 * GET /v1/admin/report with the session cookie (same origin), then draws each section of
 * client/view.ts: heading, sentences, a chart with its text alternative, its tables, or the
 * section's empty state. Errors are shown on the page (role=alert), never thrown at it.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartDataset,
} from 'chart.js';
import { parseReport } from './report';
import { dashboardView, type ChartView, type SectionView, type Series, type TableView } from './view';

Chart.register(BarController, BarElement, CategoryScale, Filler, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip);

const COLORS = ['#0b5cad', '#b34700', '#2e7d32', '#6a3d9a'];
const BAND = 'rgba(11, 92, 173, 0.18)';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function dataset(s: Series, i: number): ChartDataset<'bar' | 'line', (number | [number, number] | null)[]> {
  const color = COLORS[i % COLORS.length];
  switch (s.role) {
    case 'bars':
      return { type: 'bar', label: s.label, data: s.values, backgroundColor: color, borderColor: color };
    case 'interval':
      return {
        type: 'bar',
        label: s.label,
        data: s.values,
        backgroundColor: BAND,
        borderColor: COLORS[0],
        borderWidth: 1,
        barPercentage: 0.5,
      };
    case 'points':
      return {
        type: 'line',
        label: s.label,
        data: s.values,
        showLine: false,
        pointRadius: 5,
        pointStyle: 'rectRot',
        backgroundColor: COLORS[1],
        borderColor: COLORS[1],
      };
    case 'line':
      return {
        type: 'line',
        label: s.label,
        data: s.values,
        borderColor: COLORS[0],
        backgroundColor: COLORS[0],
        pointRadius: 3,
        fill: false,
      };
    case 'band-low':
      return { type: 'line', label: s.label, data: s.values, borderColor: BAND, pointRadius: 0, borderWidth: 1, fill: false };
    case 'band-high':
      return {
        type: 'line',
        label: s.label,
        data: s.values,
        borderColor: BAND,
        backgroundColor: BAND,
        pointRadius: 0,
        borderWidth: 1,
        fill: '-1',
      };
  }
}

function drawChart(canvas: HTMLCanvasElement, view: ChartView): Chart {
  const percent = (v: number | string) => (view.percent ? `${(Number(v) * 100).toFixed(1)}%` : String(v));
  return new Chart(canvas, {
    type: 'bar',
    data: { labels: view.labels, datasets: view.series.map(dataset) as ChartDataset<'bar'>[] },
    options: {
      // Drawn at once: no animation frames (also what a test reading the pixels needs).
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      scales: {
        x: { ticks: { autoSkip: true, maxRotation: 45 } },
        y: { beginAtZero: true, title: { display: true, text: view.yTitle }, ticks: { callback: percent } },
      },
      plugins: {
        // The band's lower edge has no legend entry of its own: it is half of "95% band".
        legend: { labels: { filter: (item) => item.text !== '95% low' } },
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${formatPoint(ctx.raw, view.percent)}` } },
      },
    },
  });
}

function formatPoint(raw: unknown, percent: boolean): string {
  const one = (x: unknown) => (typeof x === 'number' ? (percent ? `${(x * 100).toFixed(2)}%` : String(x)) : '–');
  return Array.isArray(raw) ? `${one(raw[0])} – ${one(raw[1])}` : one(raw);
}

function table(view: TableView, testId: string): HTMLElement {
  const wrap = el('div', { class: 'table-wrap' });
  const t = el('table', { 'data-testid': testId });
  t.append(el('caption', {}, view.caption));
  const head = el('tr');
  for (const c of view.columns) head.append(el('th', { scope: 'col' }, c));
  const thead = el('thead');
  thead.append(head);
  t.append(thead);
  const body = el('tbody');
  for (const row of view.rows) {
    const tr = el('tr');
    row.forEach((value, i) =>
      tr.append(i === 0 ? el('th', { scope: 'row' }, value) : el('td', view.numeric[i] ? { class: 'num' } : {}, value)),
    );
    body.append(tr);
  }
  t.append(body);
  wrap.append(t);
  return wrap;
}

function section(view: SectionView, charts: Chart[]): HTMLElement {
  const headingId = `${view.id}-title`;
  const s = el('section', { class: 'panel', 'aria-labelledby': headingId, 'data-testid': `section-${view.id}` });
  s.append(el('h2', { id: headingId }, view.title));
  for (const sentence of view.sentences) s.append(el('p', { class: 'summary' }, sentence));
  if (view.facts) {
    const dl = el('dl', { class: 'facts', 'data-testid': `facts-${view.id}` });
    for (const [k, v] of view.facts) dl.append(el('dt', {}, k), el('dd', {}, v));
    s.append(dl);
  }
  if (view.empty) s.append(el('p', { class: 'empty', 'data-testid': `empty-${view.id}` }, view.empty));
  if (view.chart) {
    const box = el('div', { class: 'chart' });
    // The canvas is an image with a name; its data is in the table below (the text alternative).
    const canvas = el('canvas', { role: 'img', 'aria-label': view.chart.alt, 'data-testid': `chart-${view.id}` });
    canvas.append(el('p', {}, view.chart.alt));
    box.append(canvas);
    s.append(box);
    const details = el('details');
    details.append(el('summary', {}, `Show the data of “${view.title}” as a table`));
    view.tables.forEach((t, i) => details.append(table(t, `table-${view.id}-${i}`)));
    s.append(details);
    charts.push(drawChart(canvas, view.chart));
  } else {
    view.tables.forEach((t, i) => s.append(table(t, `table-${view.id}-${i}`)));
  }
  return s;
}

function showError(main: HTMLElement, status: HTMLElement, message: string, signIn: boolean): void {
  status.textContent = '';
  const p = el('p', { class: 'error', role: 'alert', 'data-testid': 'report-error' }, message);
  if (signIn) {
    p.append(' ');
    p.append(el('a', { href: '/dashboard/sign-in' }, 'Sign in again'));
  }
  main.append(p);
  main.setAttribute('aria-busy', 'false');
}

async function load(): Promise<void> {
  const main = document.getElementById('dashboard');
  const status = document.getElementById('report-status');
  if (!main || !status) return;
  let res: Response;
  try {
    res = await fetch('/v1/admin/report', { credentials: 'same-origin', cache: 'no-store', headers: { accept: 'application/json' } });
  } catch {
    return showError(main, status, 'The server could not be reached.', false);
  }
  if (res.status === 401 || res.status === 403) {
    return showError(main, status, 'Your session has ended or is not valid; no data is shown.', true);
  }
  if (!res.ok) return showError(main, status, `The report could not be read (HTTP ${res.status}).`, false);
  let report;
  try {
    report = parseReport(await res.json());
  } catch (err) {
    return showError(main, status, `The report could not be read: ${(err as Error).message}.`, false);
  }
  const stamp = new Date(report.generatedAt).toISOString().slice(0, 19).replace('T', ' ');
  const span = report.windowDays ? ` over the last ${report.windowDays} days` : '';
  status.textContent = `Report of ${stamp} UTC${span}${report.storage ? ` (storage: ${report.storage})` : ''}; k-threshold ${report.k}.`;
  const charts: Chart[] = [];
  for (const view of dashboardView(report)) main.append(section(view, charts));
  main.setAttribute('aria-busy', 'false');
  document.body.dataset.charts = String(charts.length);
}

void load();
