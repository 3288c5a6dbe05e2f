import { useEffect, useState, type ChangeEvent } from 'react';
import { useVitrine, type VitrineStatus } from '@vitrine/react';
import type { BackendOption } from '@vitrine/sdk';
import { USER_FIELDS, USER_LABELS } from '../catalog';
import { BUDGETS } from '../options';
import { slotReports$, type SlotReport } from '../slot-registry';
import { backend$, budget$, setBudget, user$ } from '../state';
import { useStore } from '../store';

declare global {
  interface ImportMetaEnv {
    /** The Vitrine server's dashboard (`npm start` sets it to `${server}/dashboard`; unset elsewhere). */
    readonly VITE_VITRINE_DASHBOARD?: string;
  }
  interface ImportMeta {
    readonly env: ImportMetaEnv;
  }
}

/** Where the QA panel's dashboard link points: only an http(s) URL that `npm start` gave the dev server. */
const DASHBOARD_URL = /^https?:\/\//.test(import.meta.env.VITE_VITRINE_DASHBOARD ?? '')
  ? import.meta.env.VITE_VITRINE_DASHBOARD
  : undefined;

const BACKENDS: BackendOption[] = ['auto', 'webgpu', 'wasm', 'webgl', 'cpu'];
const num = (x: number | null | undefined, digits = 4) => (x == null ? '–' : x.toFixed(digits));

/** What the SDK verified about the model in use. */
function modelSignature(i: VitrineStatus['integrity']): string {
  if (!i) return '–';
  if (i.signature !== 'verified') return 'unchecked (no model key pinned)';
  const notes = [`key ${i.keyId}`, `sequence ${i.sequence}`];
  if (i.rollbackOf) notes.push(`rollback of ${i.rollbackOf}`);
  if (i.source === 'last-good') notes.push('cached last good');
  return `verified (${notes.join(', ')})`;
}

function statusRows(s: VitrineStatus | null): [string, string][] {
  if (!s) return [['backend', 'loading…']];
  const a = s.adapter;
  return [
    ['backend', s.backend],
    ['adapter', a ? `${a.vendor} ${a.architecture} ${a.description}`.trim() || 'unnamed' : 'no WebGPU adapter'],
    ['isFallbackAdapter', a ? String(a.isFallbackAdapter) : '–'],
    ['selection', s.selection?.reason ?? '–'],
    ['warm-up timings', s.selection?.timingsMs ? JSON.stringify(s.selection.timingsMs) : '–'],
    ['model version', s.modelVersion ?? 'none'],
    ['model signature', modelSignature(s.integrity)],
    ['profile storage', s.profile],
    ['consent', s.consent],
    ['degraded', s.degraded ?? 'no'],
    ['warnings', s.warnings.length ? s.warnings.join('; ') : 'none'],
  ];
}

/** The QA team's view: engine status, per-slot decisions, profile, privacy report, forget. */
export function QaPanel() {
  const { client, status: liveStatus } = useVitrine();
  const slots = useStore(slotReports$);
  const backend = useStore(backend$);
  const budget = useStore(budget$);
  const user = useStore(user$);
  const [status, setStatus] = useState<VitrineStatus | null>(liveStatus);
  const [profile, setProfile] = useState('{}');
  const [privacy, setPrivacy] = useState('{}');
  const [segments, setSegments] = useState('–');

  useEffect(() => {
    if (!client) return setStatus(liveStatus);
    let alive = true;
    const read = async () => {
      // The status may change in the background (a backend switch after a race): read it afresh.
      setStatus({ ...client.status });
      const [p, r, s] = await Promise.all([client.exportProfile(), client.privacyReport(), client.segments()]);
      if (!alive) return;
      setProfile(JSON.stringify(p, null, 1));
      setPrivacy(JSON.stringify(r, null, 1));
      // Computed on this device from the merchant's definitions; never sent as such.
      setSegments(s.length ? s.map((x) => x.name).join(', ') : 'none');
    };
    void read();
    const timer = setInterval(() => void read(), 1000);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, [client, liveStatus]);

  const changeUser = (e: ChangeEvent<HTMLSelectElement>) => {
    const next = { ...user, [e.target.name]: e.target.value };
    user$.set(next);
    // Kept on this device: the SDK uses it for ranking (never sends it); slots use it from the next page.
    void client?.setUser(next).catch((err) => console.warn('[demo] setUser failed', err));
  };
  const forget = async () => {
    await client?.forget();
  };

  return (
    <aside id="qa-panel" className="qa" aria-labelledby="qa-title" data-testid="qa">
      <h2 id="qa-title">QA panel</h2>
      <dl className="facts" data-testid="status">
        {[...statusRows(status), ['segments', segments] as [string, string]].map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd data-field={k}>{v}</dd>
          </div>
        ))}
      </dl>

      <p className="qa-dashboard">
        {DASHBOARD_URL ? (
          <a href={DASHBOARD_URL} data-testid="qa-dashboard">
            Open the Vitrine dashboard (admin token needed)
          </a>
        ) : (
          <>
            Dashboard: <code>/dashboard</code> on the Vitrine server (<code>npm start</code> prints its URL).
          </>
        )}
      </p>

      <h3>Engine</h3>
      <div className="qa-controls">
        <label>
          Backend
          <select data-testid="backend" value={backend} onChange={(e) => backend$.set(e.target.value as BackendOption)}>
            {BACKENDS.map((b) => (
              <option key={b}>{b}</option>
            ))}
          </select>
        </label>
        <label>
          Ranking budget
          <select
            data-testid="budget"
            value={String(budget ?? '')}
            onChange={(e) => setBudget(e.target.value ? Number(e.target.value) : undefined)}
          >
            {BUDGETS.map((b) => (
              <option key={b.label} value={String(b.ms ?? '')}>
                {b.label}
              </option>
            ))}
          </select>
        </label>
      </div>

      <h3>Shopper (kept on this device)</h3>
      <form className="qa-controls" data-testid="user" onSubmit={(e) => e.preventDefault()}>
        {Object.entries(USER_FIELDS).map(([name, values]) => (
          <label key={name}>
            {USER_LABELS[name] ?? name}
            <select name={name} value={user[name]} onChange={changeUser}>
              {values.map((v) => (
                <option key={v}>{v}</option>
              ))}
            </select>
          </label>
        ))}
      </form>

      <h3>Slots on this page</h3>
      {slots.size === 0 && <p className="muted">No slot on this page.</p>}
      {[...slots.values()].map((s) => (
        <SlotDecision key={s.name} report={s} />
      ))}

      <h3>Privacy report</h3>
      <button
        type="button"
        className="secondary"
        data-testid="qa-flush"
        onClick={() => void client?.flush().catch((err) => console.warn('[demo] flush failed', err))}
      >
        Send pending signals now
      </button>
      <pre data-testid="privacy" tabIndex={0} aria-label="Privacy report (JSON)">
        {privacy}
      </pre>
      <h3>Profile</h3>
      <pre data-testid="profile" tabIndex={0} aria-label="Stored profile (JSON)">
        {profile}
      </pre>
      <button type="button" className="danger" data-testid="qa-forget" onClick={() => void forget()}>
        Forget me
      </button>
    </aside>
  );
}

function SlotDecision({ report }: { report: SlotReport }) {
  const d = report.decision;
  return (
    <section className="qa-slot" data-testid={`qa-slot-${report.name}`} aria-label={`Slot ${report.name}`}>
      <h4>{report.name}</h4>
      <dl className="facts">
        <div>
          <dt>phase</dt>
          <dd data-field="phase">{report.phase}</dd>
        </div>
        <div>
          <dt>personalized</dt>
          <dd data-field="personalized">{String(report.personalized)}</dd>
        </div>
        <div>
          <dt>ranked after</dt>
          <dd data-field="ranked after">{report.rankedAfterMs === undefined ? '–' : `${report.rankedAfterMs.toFixed(1)} ms`}</dd>
        </div>
        <div>
          <dt>decision</dt>
          <dd data-field="decision">{d ? d.id : 'none (shop order)'}</dd>
        </div>
        <div>
          <dt>explored</dt>
          <dd data-field="explored">{d ? String(d.policy.explored) : '–'}</dd>
        </div>
        <div>
          <dt>holdout arm</dt>
          <dd data-field="arm">{d?.policy.arm ?? 'no holdout'}</dd>
        </div>
        <div>
          <dt>left out by rules</dt>
          <dd data-field="excluded">{d?.excluded?.length ? d.excluded.map((x) => `${x.id} (${x.rule})`).join(', ') : 'none'}</dd>
        </div>
        <div>
          <dt>context</dt>
          <dd data-field="context">{JSON.stringify(report.context)}</dd>
        </div>
      </dl>
      {d && (
        <table className="qa-items">
          <caption className="visually-hidden">Decision for slot {report.name}</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">activity</th>
              <th scope="col">score</th>
              <th scope="col">propensity</th>
              <th scope="col">cold start</th>
            </tr>
          </thead>
          <tbody>
            {d.items.map((item) => (
              <tr key={item.id} data-activity={item.id} data-cold-start={String(item.coldStart)}>
                <td>{item.position + 1}</td>
                <td>{item.id}</td>
                <td>{num(item.score)}</td>
                <td>{num(item.propensity)}</td>
                <td>{item.coldStart ? 'cold start' : 'no'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
