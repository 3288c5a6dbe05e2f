import { useEffect, useRef } from 'react';
// Only what a line chart over two linear axes needs, so the privacy page's chunk stays small.
import { Chart, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, Tooltip);

/** ε spent in the privacy window right after one of this device's contributions (privacyReport().spent.history). */
export interface EpsilonPoint {
  at: number;
  epsilon: number;
}

const time = (at: number) => new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const eps = (e: number) => (e > 0 && e < 0.001 ? e.toExponential(2) : String(Number(e.toPrecision(3))));

/** Plain-words summary of the series: the chart's text alternative. */
export function describeEpsilon(points: EpsilonPoint[], budget: number | null): string {
  const budgetText = budget === null ? '' : ` of a budget of ${eps(budget)}`;
  const last = points[points.length - 1];
  if (!last || last.epsilon === 0) return `No privacy budget spent yet${budgetText}.`;
  const span = `${points.length} ${points.length === 1 ? 'contribution' : 'contributions'} from ${time(points[0].at)} to ${time(last.at)}`;
  return `Privacy budget spent (ε) over time: ${span}; now ${eps(last.epsilon)}${budgetText}.`;
}

/** ε spent over time as a line chart, with the same data as a table (the text alternative). */
export default function EpsilonChart({ points, budget }: { points: EpsilonPoint[]; budget: number | null }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const from = points[0]?.at ?? Date.now();
    const to = points[points.length - 1]?.at ?? from;
    const chart = new Chart(canvas.current, {
      type: 'line',
      data: {
        datasets: [
          {
            label: 'ε spent',
            // Time on a linear axis (ms), so contributions sit where they were made.
            data: points.map((p) => ({ x: p.at, y: p.epsilon })),
            borderColor: '#1d4e89',
            backgroundColor: '#1d4e89',
            stepped: 'after',
          },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: {
          x: {
            type: 'linear',
            // At least a minute wide, so close contributions (or a single one) do not stretch the axis over nothing.
            suggestedMin: from - 30_000,
            suggestedMax: to + 30_000,
            ticks: { callback: (value) => time(Number(value)), maxTicksLimit: 6 },
          },
          y: { beginAtZero: true, title: { display: true, text: 'ε spent' } },
        },
        plugins: { tooltip: { callbacks: { title: (items) => time(items[0].parsed.x ?? 0) } } },
      },
    });
    return () => chart.destroy();
  }, [points]);
  const summary = describeEpsilon(points, budget);
  return (
    <figure className="chart" data-testid="epsilon-chart">
      <div className="chart-box">
        <canvas ref={canvas} role="img" aria-label={summary} />
      </div>
      <figcaption>{summary}</figcaption>
      {points.length > 0 && (
        <details>
          <summary>Show the contributions as a table</summary>
          <table data-testid="epsilon-table">
            <caption>Privacy budget spent (ε) over time</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">ε spent</th>
              </tr>
            </thead>
            <tbody>
              {points.map((p, i) => (
                <tr key={i}>
                  <td>{time(p.at)}</td>
                  <td>{eps(p.epsilon)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </figure>
  );
}
