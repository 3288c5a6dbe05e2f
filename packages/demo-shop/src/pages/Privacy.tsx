import { useCallback, useEffect, useState } from 'react';
import { useVitrine } from '@vitrine/react';
import type { PrivacyReport, ProfileExport } from '@vitrine/sdk';
import { offerById } from '../catalog';
import EpsilonChart, { type EpsilonPoint } from '../components/EpsilonChart';
import { CONSENT_CHOICES, consentLabel, useChooseConsent } from '../consent';
import { consentChoice$ } from '../state';
import { useStore } from '../store';

type Report = Awaited<ReturnType<NonNullable<ReturnType<typeof useVitrine>['client']>['privacyReport']>>;
const isSignals = (r: Report | null): r is PrivacyReport => r?.consent === 'signals';

const when = (at: number | null) => (at === null ? 'never' : new Date(at).toLocaleString());
const OUTCOME_WORDS: Record<string, string> = {
  view: 'saw',
  click: 'opened',
  add_to_cart: 'added to cart',
  purchase: 'bought',
  dismiss: 'said "not for me" to',
};

/** Saves the profile as a JSON file (a Blob download: nothing leaves the device). */
function download(profile: ProfileExport) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(profile, null, 2)], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = 'vitrine-profile.json';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

/** The privacy page: the choice, what is stored (download), what was sent, ε spent over time, forget. */
export default function Privacy() {
  const { client, consent } = useVitrine();
  const choose = useChooseConsent();
  // The radios follow the choice at once; the client applies it a moment later.
  const chosen = useStore(consentChoice$) ?? consent;
  const [profile, setProfile] = useState<ProfileExport | null>(null);
  const [report, setReport] = useState<Report | null>(null);
  const [epsilon, setEpsilon] = useState<EpsilonPoint[]>([]);
  const [notice, setNotice] = useState('');

  const load = useCallback(async () => {
    if (!client) return;
    const [p, r] = await Promise.all([client.exportProfile(), client.privacyReport()]);
    setProfile(p);
    setReport(r);
    // The device's own privacy ledger: ε in the current window after each contribution.
    const next = isSignals(r) ? (r.spent?.history ?? []) : [];
    // The same points keep the same array: the chart is only redrawn when a contribution was added.
    setEpsilon((prev) => (prev.length === next.length && prev.every((p, i) => p.at === next[i].at) ? prev : next));
  }, [client]);

  useEffect(() => {
    void load();
    // Signals are sent in the background: keep the page current while it is open.
    const timer = setInterval(() => void load(), 2000);
    return () => clearInterval(timer);
  }, [load, consent]);

  const forget = async () => {
    if (!client) return;
    await client.forget();
    setNotice('Everything this shop kept about you on this device was erased.');
    await load();
  };

  const events = profile?.events ?? [];
  return (
    <>
      <h1 tabIndex={-1} className="page-title">
        Your privacy
      </h1>
      <p className="lead">Offers are picked on this device. Here is what this shop keeps in your browser, what it sent, and your choice.</p>

      <section aria-labelledby="choice-title" className="panel">
        <h2 id="choice-title">Your choice</h2>
        <fieldset className="choices">
          <legend>Personalization</legend>
          {CONSENT_CHOICES.map((c) => (
            <label key={c.value} className="choice">
              <input
                type="radio"
                name="consent"
                value={c.value}
                checked={chosen === c.value}
                onChange={() => void choose(c.value).then(load)}
                data-testid={`consent-${c.value}`}
              />
              <span>
                <strong>{c.label}</strong>
                <span className="muted"> {c.detail}</span>
              </span>
            </label>
          ))}
        </fieldset>
      </section>

      <section aria-labelledby="stored-title" className="panel">
        <h2 id="stored-title">Stored on this device</h2>
        {!profile ? (
          <p>Loading…</p>
        ) : profile.storage === 'none' ? (
          <p data-testid="stored-summary">Nothing: you chose “{consentLabel('none')}”.</p>
        ) : (
          <p data-testid="stored-summary">
            {events.length} {events.length === 1 ? 'event' : 'events'} in this browser (
            {profile.storage === 'indexeddb' ? 'IndexedDB' : 'memory'}
            ), kept at most {profile.retention.maxAgeDays} days.
          </p>
        )}
        {events.length > 0 && (
          <table className="events">
            <caption>Your latest activity</caption>
            <thead>
              <tr>
                <th scope="col">Hour</th>
                <th scope="col">What</th>
              </tr>
            </thead>
            <tbody>
              {events
                .slice(-8)
                .reverse()
                .map((e, i) => (
                  <tr key={`${e.hour}-${i}`}>
                    <td>{new Date(e.hour).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' })}</td>
                    <td>
                      You {OUTCOME_WORDS[e.outcome] ?? e.outcome} {offerById(e.activityId)?.title ?? e.activityId}
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
        )}
        <button type="button" disabled={!profile} onClick={() => profile && download(profile)} data-action="download">
          Download as JSON
        </button>
      </section>

      <section aria-labelledby="sent-title" className="panel">
        <h2 id="sent-title">Sent to improve offers</h2>
        {!report ? (
          <p>Loading…</p>
        ) : isSignals(report) ? (
          <dl className="facts" data-testid="sent">
            <dt>Batches sent</dt>
            <dd data-field="sent batches">{report.sent.batches}</dd>
            <dt>Events sent</dt>
            <dd data-field="sent events">{report.sent.events}</dd>
            <dt>Model updates sent</dt>
            <dd data-field="sent updates">{report.sent.updates}</dd>
            <dt>Last sent</dt>
            <dd>{when(report.sent.lastAt)}</dd>
            <dt>Waiting to be sent</dt>
            <dd>
              {report.pending.events} events in {report.pending.batches} batches
            </dd>
            <dt>Each batch holds</dt>
            <dd>{report.fields.join('; ')}</dd>
          </dl>
        ) : (
          <p data-testid="sent">Nothing is sent: you chose “{consentLabel(report.consent)}”.</p>
        )}
      </section>

      <section aria-labelledby="budget-title" className="panel">
        <h2 id="budget-title">Privacy budget used</h2>
        <p>
          Each model update this device sends uses part of a privacy budget (ε, differential privacy): the lower, the less anyone can learn
          about you from it.
        </p>
        <EpsilonChart points={epsilon} budget={isSignals(report) ? (report.budget?.epsilon ?? null) : null} />
      </section>

      <section aria-labelledby="forget-title" className="panel">
        <h2 id="forget-title">Forget me</h2>
        <p>Erases your activity, the signals not yet sent and the privacy budget readings from this browser.</p>
        <button type="button" className="danger" onClick={() => void forget()} data-action="forget">
          Forget me
        </button>
        <p role="status" className="notice-text">
          {notice}
        </p>
      </section>
    </>
  );
}
