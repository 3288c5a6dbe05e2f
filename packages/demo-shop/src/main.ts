import type { Decision, Outcome, Progress, Vitrine, VitrineOptions } from '@vitrine/sdk';
import { CATALOG, CONTEXT_FIELDS, USER_FIELDS } from './catalog';

// The page loads the script-tag build (index.html), which defines `window.Vitrine`; only the
// SDK's types are imported here (erased at build time), so the page runs exactly what ships.
/** The script-tag build's global (packages/sdk/src/script-tag.ts). */
interface VitrineGlobal {
  init(options: VitrineOptions): Promise<Vitrine>;
  readonly ready: Promise<Vitrine> | undefined;
  readonly version: string;
}
declare global {
  interface Window {
    Vitrine?: VitrineGlobal;
    vitrineQueue: ((v: Vitrine) => unknown)[] | { push(fn: (v: Vitrine) => unknown): number };
  }
}

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;
let client: Vitrine | undefined;
let lastRankMs = 0;

function select(form: HTMLFormElement, fields: Record<string, string[]>, initial: Record<string, string>) {
  for (const [name, options] of Object.entries(fields)) {
    const label = document.createElement('label');
    label.textContent = name;
    const sel = document.createElement('select');
    sel.name = name;
    for (const o of options) sel.add(new Option(o, o, false, o === initial[name]));
    label.append(sel);
    form.append(label);
  }
}

function read(form: HTMLFormElement, numeric: string[] = []): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  new FormData(form).forEach((v, k) => {
    out[k] = numeric.includes(k) ? Number(v) : String(v);
  });
  return out;
}

select($('#context'), CONTEXT_FIELDS, {
  destination: 'No Urgent Place',
  passanger: 'Friend(s)',
  weather: 'Sunny',
  temperature: '80',
  time: '2PM',
});
select($('#user'), USER_FIELDS, {
  age: '26',
  gender: 'Female',
  has_children: '0',
  CoffeeHouse: '1~3',
  Bar: 'never',
  RestaurantLessThan20: '4~8',
});

/** Set by the dev server (VITRINE_QA_LOOP=1, from `npm run start:qa-loop` and the e2e loop). */
declare const __VITRINE_QA_LOOP__: boolean;
/** The server's model signing public key (VITRINE_MODEL_KEY, set by `npm start`): only models it signed are used. */
declare const __VITRINE_MODEL_KEY__: string;
const CONSENT_KEY = 'vitrine-demo-consent';
const consent = () => (localStorage.getItem(CONSENT_KEY) === 'signals' ? 'signals' : 'none');
($('#consent') as HTMLInputElement).checked = consent() === 'signals';

async function start() {
  client?.close();
  const backend = ($('#backend') as HTMLSelectElement).value as VitrineOptions['backend'];
  $('#cards').innerHTML = '<p class="muted">Loading the model…</p>';
  let created: Vitrine | undefined = undefined; // read by onProgress before init() resolves
  created = await window.Vitrine!.init({
    // The Vitrine server (proxied by the dev server at /v1) publishes the current model version.
    model: '/v1/models/current',
    endpoint: '/v1',
    consent: consent(),
    // `npm run start:qa-loop` runs a server with QA privacy (one network per round, a huge
    // epsilon); devices refuse such parameters unless the shop loosens its floors, as here.
    ...(__VITRINE_QA_LOOP__ ? { privacyFloors: { maxEpsilon: Infinity, minCohort: 1, minKThreshold: 1 } } : {}),
    ...(__VITRINE_MODEL_KEY__ ? { modelKey: __VITRINE_MODEL_KEY__ } : {}),
    backend,
    user: read($('#user')),
    onProgress: (p: Progress) => {
      // After start-up, progress comes from the SDK retrying a model that failed to load (the
      // server was starting): keep the shop's order on screen and rank again once it is ready.
      if (created) {
        if (p.stage === 'ready' && created === client) void rank();
        return;
      }
      $('#cards').innerHTML = `<p class="muted">${p.stage} ${(p.progress * 100).toFixed(0)}%</p>`;
    },
  });
  client = created;
  await rank();
}

async function rank() {
  // The client can be replaced (backend or shopper changed) while this runs: keep the one we
  // started with and stop quietly if it was closed meanwhile.
  const c = client;
  if (!c) return;
  try {
    const slots = Number(($('#slots') as HTMLInputElement).value) || 4;
    const t0 = performance.now();
    const decision = await c.rank(CATALOG, { context: read($('#context'), ['toCoupon_GEQ15min', 'direction_same']), slots });
    lastRankMs = performance.now() - t0;
    if (c !== client) return;
    renderCards(decision);
    // Every placed card was seen: a 'view' (reward 0) that a later click upgrades.
    for (const item of decision.items) await c.track(decision.id, item.id, 'view');
    await renderQa(decision);
  } catch (err) {
    if (c === client) console.warn('[demo] rank failed', err);
  }
}

function renderCards(decision: Decision) {
  const cards = $('#cards');
  cards.replaceChildren();
  for (const item of decision.items) {
    const a = CATALOG.find((c) => c.id === item.id)!;
    const card = document.createElement('article');
    card.className = 'card';
    card.dataset.id = item.id;
    card.innerHTML = `<h3></h3><p class="title"></p><p class="expiry"></p><ul class="reasons"></ul>
      <div class="actions"><button data-outcome="click">Get coupon</button>
        <button data-outcome="dismiss" class="secondary">No thanks</button></div>`;
    card.querySelector('h3')!.textContent = a.type;
    card.querySelector('.title')!.textContent = a.title;
    card.querySelector('.expiry')!.textContent = `valid ${a.features.expiration === '2h' ? '2 hours' : '1 day'}`;
    for (const r of item.reasons) {
      const li = document.createElement('li');
      li.textContent = r.text;
      card.querySelector('.reasons')!.append(li);
    }
    card.querySelectorAll('button').forEach((b) =>
      b.addEventListener('click', async () => {
        try {
          await client!.track(decision.id, item.id, b.dataset.outcome as Outcome);
        } catch (err) {
          console.warn('[demo] track failed', err); // e.g. the engine was switched meanwhile
        }
        await rank();
      }),
    );
    cards.append(card);
  }
}

/** What the SDK verified about the model in use, for the QA panel. */
function modelSignature(i: Vitrine['status']['integrity']): string {
  if (!i) return '–';
  if (i.signature !== 'verified') return 'unchecked (no model key pinned)';
  const notes = [`key ${i.keyId}`, `sequence ${i.sequence}`];
  if (i.rollbackOf) notes.push(`rollback of ${i.rollbackOf}`);
  if (i.source === 'last-good') notes.push('cached last good');
  return `verified (${notes.join(', ')})`;
}

async function renderQa(decision: Decision) {
  const s = client!.status;
  const rows: [string, string][] = [
    ['backend', s.backend],
    ['adapter', s.adapter ? `${s.adapter.vendor} ${s.adapter.architecture} ${s.adapter.description}`.trim() : 'no WebGPU adapter'],
    ['isFallbackAdapter', s.adapter ? String(s.adapter.isFallbackAdapter) : '–'],
    ['selection', s.selection?.reason ?? '–'],
    ['warm-up timings', s.selection?.timingsMs ? JSON.stringify(s.selection.timingsMs) : '–'],
    ['model version', s.modelVersion ?? 'none'],
    ['model signature', modelSignature(s.integrity)],
    ['profile storage', s.profile],
    ['degraded', s.degraded ?? 'no'],
    ['warnings', s.warnings?.length ? s.warnings.join('; ') : 'none'],
    ['decision', `${decision.id.slice(0, 8)}… explored=${decision.policy.explored}`],
    ['rank latency', `${lastRankMs.toFixed(1)} ms`],
  ];
  const dl = $('#status');
  dl.replaceChildren();
  for (const [k, v] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dd.dataset.field = k;
    dl.append(dt, dd);
  }
  const tbody = $('#decision').querySelector('tbody')!;
  tbody.replaceChildren();
  for (const item of decision.items) {
    const tr = document.createElement('tr');
    for (const v of [String(item.position + 1), item.id, item.score === null ? '–' : item.score.toFixed(4), item.propensity.toFixed(4)]) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.append(td);
    }
    tbody.append(tr);
  }
  $('#profile').textContent = JSON.stringify(await client!.exportProfile(), null, 1);
  await renderPrivacy();
}

async function renderPrivacy() {
  const r = await client!.privacyReport();
  $('#privacy').textContent = JSON.stringify(
    r.consent === 'signals'
      ? { consent: r.consent, sent: r.sent, pending: r.pending, spent: r.spent, budget: r.budget, updates: r.updates, dropped: r.dropped }
      : r,
    null,
    1,
  );
}

$('#context').addEventListener('change', rank);
$('#slots').addEventListener('change', rank);
$('#user').addEventListener('change', start);
$('#backend').addEventListener('change', start);
$('#consent').addEventListener('change', async (e) => {
  const value = (e.target as HTMLInputElement).checked ? 'signals' : 'none';
  localStorage.setItem(CONSENT_KEY, value);
  await client?.setConsent(value);
  await renderPrivacy();
});
$('#forget').addEventListener('click', async () => {
  await client?.forget();
  await start();
});

// The SDK script tag is async: start once it has run.
if (window.Vitrine) start();
else document.querySelector('script[src$="vitrine.min.js"]')!.addEventListener('load', () => start());
