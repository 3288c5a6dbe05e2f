/**
 * The merchant's rules in the policy stage (a lazy chunk: pages without rules, a server policy
 * or a running holdout never download it). Rules act before exploration, and every placed
 * item's propensity is computed over what they left eligible, so off-policy estimates stay
 * unbiased (the eligible set is part of the context they condition on):
 *
 * 1. Filters (no randomness but pacing's): exclusions, targeting by segment, shown-once
 *    outcomes (`hideAfter`), frequency caps counted from the profile's events, then pacing: a
 *    page view keeps a paced activity with probability = its published multiplier.
 * 2. Boosts change scores (score × multiply + add).
 * 3. Pins take their slots with propensity 1.
 * 4. Diversity: only each type's best `maxPerType` (minus its pinned ones) compete, so every
 *    order of the pool respects the cap, exploration's too; the greedy order is by score, or
 *    by maximal marginal relevance when `lambda` < 1.
 * 5. The holdout draws the arm; Vitrine's arm explores with probability ε (a uniformly random
 *    order of the pool), control takes the shop's order or a uniformly random one. The free
 *    slot j's item i is logged with P = (1 − h)·[(1 − ε)·[greedy_j = i] + ε/n] + h·P_control(i, j).
 */
import * as v from 'valibot';
import {
  PolicyDocumentSchema,
  RulesSchema,
  SegmentsSchema,
  lastEventHour,
  primarySegmentIndex,
  segmentMemberships,
  type Match,
  type PolicyDocument,
  type Rules,
  type Segment,
} from '@vitrine/core/policy';
import { emptyAggregates, own, type ProfileAggregates, type ProfileEvent } from '@vitrine/core/features';
import type { Activity, FeatureRecord, Outcome } from '@vitrine/core/domain';
import type { Consent, VitrineOptions, VitrineStatus } from '../types';
import { VitrineError } from '../errors';
import { topK } from './epsilon-greedy';

export type { PolicyDocument, Rules, Segment };

export const HOLDOUT_CONTROLS = ['shop-order', 'uniform'] as const;
export type HoldoutControl = (typeof HOLDOUT_CONTROLS)[number];
export type Arm = 'vitrine' | 'control';

/** Why the rules left an activity out of a decision. */
export type RuleRemoval = 'exclude' | 'target' | 'hidden' | 'cap' | 'paced' | 'diversity';

/** The events caps and `hideAfter` count (the profile's event log, oldest first). */
export interface RuleEvent {
  activityId: string;
  outcome: Outcome;
  /** Epoch ms floored to the hour. */
  hour: number;
}

export interface RuleContext {
  rules: readonly Rules[];
  /** Server pacing multipliers by activity id (absent: 1). */
  pacing: Readonly<Record<string, number>>;
  segments: ReadonlySet<string>;
  events: readonly RuleEvent[];
  now: number;
  random: () => number;
}

export interface Filtered {
  /** Indices of the activities the rules keep, in the shop's order. */
  kept: number[];
  removed: { id: string; rule: RuleRemoval }[];
}

/** Parses the shop's rules (options or a rank call): a typed VitrineError names the first bad field. */
export function parseRules(raw: unknown, field: string, code: 'invalid_input' | 'invalid_options'): Rules {
  return parse(RulesSchema, raw, field, code);
}

export function parseSegments(raw: unknown): Segment[] {
  return parse(SegmentsSchema, raw, 'options.segments', 'invalid_options');
}

function parse<T>(schema: v.GenericSchema<unknown, T>, raw: unknown, field: string, code: 'invalid_input' | 'invalid_options'): T {
  const parsed = v.safeParse(schema, raw);
  if (parsed.success) return parsed.output;
  const issue = parsed.issues[0];
  const path = v.getDotPath(issue);
  throw new VitrineError(code, `${field}${path ? `.${path}` : ''}: ${issue.message}`, { field });
}

const oneOrMany = <T>(x: T | T[] | undefined): T[] | undefined => (x === undefined ? undefined : Array.isArray(x) ? x : [x]);

/** A match as a predicate, built once per rank (no allocation per candidate); false for everyone outside its segment. */
export function matcher(match: Match, segments: ReadonlySet<string>): (activity: Activity) => boolean {
  if (match.segment !== undefined && !segments.has(match.segment)) return () => false;
  const ids = match.activity === undefined ? undefined : new Set(oneOrMany(match.activity));
  const types = match.type === undefined ? undefined : new Set(oneOrMany(match.type));
  return (a) => (ids === undefined || ids.has(a.id)) && (types === undefined || types.has(a.type));
}

const HOUR_MS = 3_600_000;

/** Step 1: what the rules leave eligible. Pacing draws one random number per paced activity, in the shop's order. */
export function filterByRules(activities: readonly Activity[], ctx: RuleContext): Filtered {
  // Any rule at all (the shop's or the server's; an empty set is none) brings the default: a redeemed offer is not shown again.
  const any = ctx.rules.some((r) => Object.keys(r).length > 0);
  const hideAfter = new Set<Outcome>(ctx.rules.reduce<Outcome[]>((acc, r) => r.hideAfter ?? acc, any ? ['purchase'] : []));
  const finished = new Set<string>();
  for (const e of ctx.events) if (hideAfter.has(e.outcome)) finished.add(e.activityId);
  // Compiled once per rank: no allocation per candidate.
  const excluded = ctx.rules.flatMap((r) => (r.exclude ?? []).map((m) => matcher(m, ctx.segments)));
  /** Targeted activity id → whether the shopper is in one of the segments of one of its targets. */
  const targeted = new Map<string, boolean>();
  for (const r of ctx.rules) {
    for (const t of r.target ?? []) {
      const reached = t.segments.some((s) => ctx.segments.has(s));
      for (const id of oneOrMany(t.activity)!) targeted.set(id, (targeted.get(id) ?? false) || reached);
    }
  }
  // Events keep the hour only: a view counts while its hour is inside the window.
  const caps = ctx.rules.flatMap((r) =>
    (r.caps ?? []).map((c) => ({ applies: matcher(c.match, ctx.segments), since: ctx.now - c.perHours * HOUR_MS, maxViews: c.maxViews })),
  );
  const viewHours = new Map<string, number[]>();
  if (caps.length) {
    for (const e of ctx.events)
      if (e.outcome === 'view') (viewHours.get(e.activityId) ?? viewHours.set(e.activityId, []).get(e.activityId)!).push(e.hour);
  }
  const kept: number[] = [];
  const removed: Filtered['removed'] = [];
  activities.forEach((a, i) => {
    const rule = removal(a);
    if (rule) removed.push({ id: a.id, rule });
    else kept.push(i);
  });
  return { kept, removed };

  function removal(a: Activity): RuleRemoval | null {
    for (const applies of excluded) if (applies(a)) return 'exclude';
    if (targeted.get(a.id) === false) return 'target';
    if (finished.has(a.id)) return 'hidden';
    for (const cap of caps) {
      if (!cap.applies(a)) continue;
      let views = 0;
      for (const hour of viewHours.get(a.id) ?? []) if (hour + HOUR_MS > cap.since) views++;
      if (views >= cap.maxViews) return 'cap';
    }
    const multiplier = own(ctx.pacing, a.id);
    if (multiplier !== undefined && multiplier < 1 && !(ctx.random() < multiplier)) return 'paced';
    return null;
  }
}

export interface Holdout {
  share: number;
  control: HoldoutControl;
  /** The arm already drawn for this page view (or for the device, when sticky); else it is drawn per slate. */
  sticky?: Arm;
}

export interface RuledSlateInput {
  /** The activities the filters kept, in the shop's order, and their model scores. */
  activities: readonly Activity[];
  scores: ArrayLike<number>;
  slots: number;
  epsilon: number;
  rules: readonly Rules[];
  segments: ReadonlySet<string>;
  holdout: Holdout | null;
  random: () => number;
}

export interface RuledSlate {
  /** Indices into `activities`, slot 0 first. */
  order: number[];
  propensities: number[];
  /** What Vitrine's greedy order would put in each slot (what `order` is unless it explored or the page view is control). */
  greedy: number[];
  /** Slots a pin took. */
  pinned: boolean[];
  /** Scores after boosts, by activity index. */
  adjusted: Float32Array;
  explored: boolean;
  arm: Arm;
  removed: { id: string; rule: RuleRemoval }[];
  /**
   * The propensity the same rules, exploration and holdout give each placement made, with another
   * model's scores for the same activities (a copy of them): the shadow model's logged terms.
   */
  propensitiesUnder(activities: readonly Activity[], scores: ArrayLike<number>, positions: number[]): number[];
}

/** What the rules make of one set of scores, before any random draw: boosts, pins, the type cap, the greedy order. */
interface Plan {
  adjusted: Float32Array;
  /** Slot → activity index of each pin that holds. */
  pinAt: Map<number, number>;
  /** The activities exploration and the control arm draw from (not pinned, within the type cap), in the shop's order. */
  pool: number[];
  /** What the type cap left out. */
  removed: { id: string; rule: RuleRemoval }[];
  /** Slots in the slate, and how many of them the pool fills. */
  total: number;
  freeSlots: number;
  /** Vitrine's greedy choice for each free slot. */
  greedyPool: number[];
}

function plan(
  activities: readonly Activity[],
  scores: ArrayLike<number>,
  slots: number,
  rules: readonly Rules[],
  segments: ReadonlySet<string>,
): Plan {
  const n = activities.length;
  const adjusted = Float32Array.from(scores);
  for (const r of rules) {
    for (const b of r.boost ?? []) {
      const applies = matcher(b.match, segments);
      activities.forEach((a, i) => {
        if (applies(a)) adjusted[i] = adjusted[i] * (b.multiply ?? 1) + (b.add ?? 0);
      });
    }
  }
  // Pins: the first pin of an activity and of a slot wins; pins past the slate's end are not pins.
  const pinAt = new Map<number, number>();
  const pinnedItems = new Set<number>();
  const indexById = new Map(activities.map((a, i) => [a.id, i] as const));
  for (const r of rules) {
    for (const p of r.pin ?? []) {
      const i = indexById.get(p.activity);
      if (i === undefined || p.position >= slots || pinAt.has(p.position) || pinnedItems.has(i)) continue;
      if (p.segment !== undefined && !segments.has(p.segment)) continue;
      pinAt.set(p.position, i);
      pinnedItems.add(i);
    }
  }
  const maxPerType = rules.reduce<number | undefined>((acc, r) => r.diversity?.maxPerType ?? acc, undefined);
  const lambda = rules.reduce<number | undefined>((acc, r) => r.diversity?.lambda ?? acc, undefined) ?? 1;
  const removed: Plan['removed'] = [];
  let pool = [...Array(n).keys()].filter((i) => !pinnedItems.has(i));
  if (maxPerType !== undefined) {
    const pinnedOfType = new Map<string, number>();
    for (const i of pinnedItems) pinnedOfType.set(activities[i].type, (pinnedOfType.get(activities[i].type) ?? 0) + 1);
    const byType = new Map<string, number[]>();
    for (const i of pool) (byType.get(activities[i].type) ?? byType.set(activities[i].type, []).get(activities[i].type)!).push(i);
    // Each type keeps its best (maxPerType − its pins), ties in the shop's order.
    const keep = new Set<number>();
    for (const [type, members] of byType) {
      const room = Math.max(0, maxPerType - (pinnedOfType.get(type) ?? 0));
      const best =
        room >= members.length
          ? members
          : topK(
              Float32Array.from(members, (i) => adjusted[i]),
              room,
            ).map((j) => members[j]);
      for (const i of best) keep.add(i);
    }
    pool = pool.filter((i) => keep.has(i) || (removed.push({ id: activities[i].id, rule: 'diversity' }), false));
  }
  const total = Math.min(slots, pool.length + pinnedItems.size);
  const free = total - [...pinAt.keys()].filter((p) => p < total).length;
  const freeSlots = Math.max(0, Math.min(free, pool.length));
  const poolScores = Float32Array.from(pool, (i) => adjusted[i]);
  const greedyPool = (lambda < 1 ? mmr(pool, poolScores, activities, lambda, freeSlots) : topK(poolScores, freeSlots)).map((j) => pool[j]);
  return { adjusted, pinAt, pool, removed, total, freeSlots, greedyPool };
}

/** The probability that the policy puts activity `i` in free slot `j` (over exploration and both holdout arms). */
function freeSlotProbability(p: Plan, i: number, j: number, epsilon: number, holdout: Holdout | null): number {
  const m = p.pool.length;
  if (!p.pool.includes(i)) return 0;
  const eps = m > 1 ? epsilon : 0;
  const vitrine = (1 - eps) * (p.greedyPool[j] === i ? 1 : 0) + eps / m;
  const h = holdout ? holdout.share : 0;
  if (h === 0) return vitrine;
  const ctrl = holdout!.control === 'uniform' ? 1 / m : p.pool[j] === i ? 1 : 0;
  return (1 - h) * vitrine + h * ctrl;
}

/** Slot by slot, a pin where one holds, else the next free slot (a pin past a short pool moves up). */
function walkSlots(p: Plan, slots: number, visit: (pos: number, pin: number | undefined, free: number) => void): void {
  let j = 0;
  let filled = 0;
  for (let pos = 0; filled < p.total && pos < Math.max(slots, p.total); pos++) {
    const pin = p.pinAt.get(pos);
    if (pin !== undefined) {
      visit(filled++, pin, -1);
    } else if (j < p.freeSlots) {
      visit(filled++, undefined, j++);
    }
  }
}

export function chooseRuledSlate(input: RuledSlateInput): RuledSlate {
  const { activities, slots, rules, segments, random, holdout, epsilon } = input;
  const p = plan(activities, input.scores, slots, rules, segments);
  const { pool, freeSlots, greedyPool } = p;
  const m = pool.length;
  const arm: Arm = holdout?.sticky ?? (holdout && m > 0 && random() < holdout.share ? 'control' : 'vitrine');
  let explored = false;
  let chosen = greedyPool;
  if (arm === 'vitrine') {
    explored = m > 1 && random() < epsilon;
    if (explored) chosen = randomPrefix(pool, freeSlots, random);
  } else {
    chosen = holdout!.control === 'uniform' ? randomPrefix(pool, freeSlots, random) : pool.slice(0, freeSlots);
  }
  const order: number[] = [];
  const greedy: number[] = [];
  const propensities: number[] = [];
  const pinned: boolean[] = [];
  walkSlots(p, slots, (_, pin, j) => {
    order.push(pin ?? chosen[j]);
    greedy.push(pin ?? greedyPool[j]);
    propensities.push(pin !== undefined ? 1 : freeSlotProbability(p, chosen[j], j, epsilon, holdout));
    pinned.push(pin !== undefined);
  });
  return {
    order,
    propensities,
    greedy,
    pinned,
    adjusted: p.adjusted,
    explored,
    arm,
    removed: p.removed,
    // The same rules with another model's scores (the shadow): its propensity for each placement made.
    propensitiesUnder: (snapshot, scores, positions) => {
      const other = plan(snapshot, scores, slots, rules, segments);
      const at: number[] = [];
      walkSlots(
        other,
        slots,
        (pos, pin, j) =>
          (at[pos] = pin !== undefined ? (pin === order[pos] ? 1 : 0) : freeSlotProbability(other, order[pos], j, epsilon, holdout)),
      );
      return positions.map((pos) => at[pos] ?? 0);
    },
  };
}

/** The first k of a uniformly random permutation of `pool` (k draws). */
function randomPrefix(pool: readonly number[], k: number, random: () => number): number[] {
  const perm = [...pool];
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    const j = Math.min(perm.length - 1, i + Math.floor(random() * (perm.length - i)));
    [perm[i], perm[j]] = [perm[j], perm[i]];
    out.push(perm[i]);
  }
  return out;
}

/**
 * Maximal marginal relevance (Carbonell & Goldstein 1998): each next slot takes the candidate with
 * the best λ·score − (1 − λ)·max similarity to those already taken; ties in the shop's order.
 * Returns positions in `pool`.
 */
function mmr(pool: readonly number[], scores: Float32Array, activities: readonly Activity[], lambda: number, k: number): number[] {
  const taken: number[] = [];
  const closest = new Float64Array(pool.length);
  const used = new Uint8Array(pool.length);
  for (let step = 0; step < k; step++) {
    let best = -1;
    let bestValue = -Infinity;
    for (let j = 0; j < pool.length; j++) {
      if (used[j]) continue;
      const value = lambda * scores[j] - (1 - lambda) * closest[j];
      if (value > bestValue) {
        bestValue = value;
        best = j;
      }
    }
    used[best] = 1;
    taken.push(best);
    const chosen = activities[pool[best]];
    for (let j = 0; j < pool.length; j++) if (!used[j]) closest[j] = Math.max(closest[j], similarity(chosen, activities[pool[j]]));
  }
  return taken;
}

/** Half for the same type, half for the share of categorical features with equal values: 0..1. */
export function similarity(a: Activity, b: Activity): number {
  const fa = a.features ?? {};
  const fb = b.features ?? {};
  const keys = new Set([...Object.keys(fa), ...Object.keys(fb)].filter((key) => typeof (own(fa, key) ?? own(fb, key)) === 'string'));
  let same = 0;
  for (const key of keys) if (own(fa, key) !== undefined && own(fa, key) === own(fb, key)) same++;
  return (a.type === b.type ? 0.5 : 0) + (keys.size ? (0.5 * same) / keys.size : 0);
}

/** The server's policy document, or why it could not be used. */
export async function fetchPolicy(endpoint: string): Promise<PolicyDocument> {
  // A server that accepts the connection and never answers must not hold the next fetch off forever.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`no answer in ${POLICY_FETCH_TIMEOUT_MS / 1000} s`)), POLICY_FETCH_TIMEOUT_MS);
  try {
    const res = await fetch(`${endpoint.replace(/\/+$/, '')}/policy`, { credentials: 'omit', cache: 'no-cache', signal: abort.signal });
    if (!res.ok) throw new Error(`GET /policy answered ${res.status}`);
    const parsed = v.safeParse(PolicyDocumentSchema, await res.json());
    if (!parsed.success)
      throw new Error(`the published policy is not valid (${v.getDotPath(parsed.issues[0]) ?? 'document'}: ${parsed.issues[0].message})`);
    return parsed.output;
  } finally {
    clearTimeout(timer);
  }
}

/** Segment membership from what is on the device (profile, its newest event, the shopper's attributes). */
export function deviceSegments(
  definitions: readonly Segment[],
  profile: ProfileAggregates,
  events: readonly RuleEvent[],
  user: FeatureRecord,
  now: number,
): string[] {
  return segmentMemberships(definitions, { profile, lastEventHour: lastEventHour(events), user, now });
}

/** Where a sticky holdout arm is kept (forget() and consent 'none' remove it: profile/erase.ts). */
export const ARM_KEY = 'vitrine.holdout';

/**
 * A sticky holdout arm: drawn once per device and share, kept in localStorage (never sent;
 * `forget()` removes it). Without storage the arm is drawn again on each page.
 */
export function stickyArm(share: number, random: () => number): Arm {
  try {
    const saved = JSON.parse(localStorage.getItem(ARM_KEY) ?? 'null') as { share?: unknown; arm?: unknown } | null;
    if (saved?.share === share && (saved.arm === 'vitrine' || saved.arm === 'control')) return saved.arm;
  } catch {
    /* no storage, or a corrupt record: draw again */
  }
  const arm: Arm = random() < share ? 'control' : 'vitrine';
  try {
    localStorage.setItem(ARM_KEY, JSON.stringify({ share, arm }));
  } catch {
    /* storage full or blocked: the arm lasts this page */
  }
  return arm;
}

/** Reasons the rules add to a placed item, before the model's. */
export function ruleReasons(slate: RuledSlate, pos: number, scores: ArrayLike<number>): { code: 'rules' | 'control'; text: string }[] {
  const i = slate.order[pos];
  if (slate.pinned[pos]) return [{ code: 'rules', text: 'pinned by the shop' }];
  const out: { code: 'rules' | 'control'; text: string }[] = [];
  if (slate.arm === 'control') out.push({ code: 'control', text: 'A/B holdout: ranked without personalization' });
  if (Math.abs(slate.adjusted[i] - scores[i]) > 1e-9) out.push({ code: 'rules', text: 'boosted by the shop' });
  return out;
}

const DEFAULT_HOLDOUT_SHARE = 0.1;
const HoldoutSchema = v.union([
  v.literal(false),
  v.strictObject({
    share: v.optional(v.pipe(v.number(), v.finite(), v.minValue(0, 'must be in [0, 1]'), v.maxValue(1, 'must be in [0, 1]'))),
    control: v.optional(v.picklist(HOLDOUT_CONTROLS)),
    sticky: v.optional(v.boolean()),
  }),
]);
/** The server's policy (rules, segments, pacing multipliers) is fetched again after this long, or a minute after a failure. */
const POLICY_REFRESH_MS = 5 * 60_000;
const POLICY_RETRY_MS = 60_000;
/** A policy request is given up after this long (then retried a minute later). */
const POLICY_FETCH_TIMEOUT_MS = 10_000;
/** createVitrine waits this long at most for the first policy; ranking starts with the shop's rules after it. */
const POLICY_INIT_WAIT_MS = 2_000;
/** Events kept in memory for caps and segments (the profile store keeps as many). */
const RULE_EVENTS_LIMIT = 500;

/** What the policy stage reads (and the one status field it writes) of the client (see VitrineClient). */
export interface PolicyHost {
  readonly options: Pick<VitrineOptions, 'endpoint' | 'rules' | 'segments' | 'holdout'>;
  readonly now: () => number;
  readonly random: () => number;
  readonly closed: boolean;
  readonly report: (err: VitrineError) => void;
  status: VitrineStatus;
  /** Under 'none' nothing personal is used: no profile, attributes or events. */
  readonly consent: Consent;
  readonly profile: ProfileAggregates;
  readonly user: FeatureRecord;
  readonly store: { events(): Promise<ProfileEvent[]> };
  /** Non-null while signals are sent: the holdout runs only then. */
  readonly signals: object | null;
}

/** The policy for one rank: the rules in force, bound to this page view's state (filter, then choose). */
export interface RankPolicy {
  /** The activities the rules leave eligible, in the shop's order. */
  filter(activities: Activity[]): Activity[];
  choose(activities: readonly Activity[], scores: ArrayLike<number>, slots: number, epsilon: number): RuledSlate;
  /** Reasons the rules add to the chosen slate's item at `pos`. */
  reasons(pos: number, scores: ArrayLike<number>): { code: 'rules' | 'control'; text: string }[];
  /** The decision's `policy.arm` while the holdout runs. */
  arm(): { arm?: Arm };
  /** The decision's `excluded` field when the rules left anything out. */
  excluded(): { excluded?: { id: string; rule: RuleRemoval }[] };
  /** Without a model: the shop's order with the merchant's pins, boosts and type cap (no exploration, no holdout). */
  fallback(activities: Activity[], slots: number): Activity[];
}

/**
 * The client's policy stage: the shop's rules and segments, the server's policy document (fetched
 * when due, never two at once; a failure keeps the last good one, warns, and is tried again a
 * minute later), the profile's events for caps and segments, and the holdout.
 */
export class PolicyStage {
  private shopRules?: Rules;
  private shopSegments: Segment[] = [];
  private server: PolicyDocument | null = null;
  private due = 0;
  private fetching?: Promise<void>;
  private failure?: string;
  private events: RuleEvent[] | null = null;
  private arm?: { share: number; arm: Arm };

  constructor(private readonly host: PolicyHost) {}

  /** Whether any rule or segment is in force (else rank() skips the stage unless the holdout runs). */
  active(): boolean {
    // A failed fetch keeps the stage in rank()'s path, so that it is tried again when due.
    return this.shopRules !== undefined || this.shopSegments.length > 0 || this.server !== null || this.failure !== undefined;
  }

  async prepare(): Promise<void> {
    const { rules, segments, holdout } = this.host.options;
    if (holdout !== undefined) parse(HoldoutSchema, holdout, 'options.holdout', 'invalid_options');
    if (rules !== undefined) this.shopRules = parseRules(rules, 'options.rules', 'invalid_options');
    if (segments !== undefined) this.shopSegments = parseSegments(segments);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<void>((r) => (timer = setTimeout(r, POLICY_INIT_WAIT_MS)));
    await Promise.race([this.refresh(), waited]).finally(() => clearTimeout(timer));
  }

  refresh(): Promise<void> {
    const { endpoint } = this.host.options;
    const now = this.host.now();
    if (!endpoint || this.host.closed || this.fetching || now < this.due) return this.fetching ?? Promise.resolve();
    const done = fetchPolicy(endpoint).then(
      (doc) => {
        this.server = doc;
        this.due = this.host.now() + POLICY_REFRESH_MS;
        this.setFailure(undefined);
      },
      (err: unknown) => {
        this.due = this.host.now() + POLICY_RETRY_MS;
        const reason = `merchant policy not loaded from ${endpoint}/policy (${(err as Error)?.message ?? err}); the shop's own rules apply`;
        if (this.failure !== reason) this.host.report(new VitrineError('policy_unavailable', reason, { cause: err }));
        this.setFailure(reason);
      },
    );
    this.fetching = done.finally(() => {
      this.fetching = undefined;
    });
    return this.fetching;
  }

  private setFailure(reason: string | undefined): void {
    const { status } = this.host;
    const warnings = status.warnings.filter((w) => w !== this.failure);
    this.host.status = { ...status, warnings: reason ? [...warnings, reason] : warnings };
    this.failure = reason;
  }

  async context(callRules: unknown, at: number): Promise<RankPolicy> {
    void this.refresh(); // in the background: this rank uses the policy in force
    const server = this.server;
    const rules = [
      ...(server ? [server.rules] : []),
      ...(this.shopRules ? [this.shopRules] : []),
      ...(callRules !== undefined ? [parseRules(callRules, 'options.rules', 'invalid_input')] : []),
    ];
    const events = await this.ruleEvents();
    const segments = new Set(this.memberships(events, at));
    const ctx: RuleContext = { rules, pacing: server?.pacing ?? {}, segments, events, now: at, random: this.host.random };
    const holdout = this.holdout();
    const removed: { id: string; rule: RuleRemoval }[] = [];
    let slate: RuledSlate | undefined;
    return {
      filter: (activities) => {
        const f = filterByRules(activities, ctx);
        removed.push(...f.removed);
        return f.kept.map((i) => activities[i]);
      },
      choose: (activities, scores, slots, epsilon) => {
        slate = chooseRuledSlate({ activities, scores, slots, epsilon, rules, segments, holdout, random: this.host.random });
        removed.push(...slate.removed);
        return slate;
      },
      reasons: (pos, scores) => (slate ? ruleReasons(slate, pos, scores) : []),
      arm: () => (slate && holdout ? { arm: slate.arm } : {}),
      excluded: () => (removed.length ? { excluded: removed } : {}),
      fallback: (activities, slots) => {
        const p = plan(activities, new Float32Array(activities.length), slots, rules, segments);
        if (!slate) removed.push(...p.removed); // a scoring failure after choose() already counted them
        const out: Activity[] = [];
        walkSlots(p, slots, (_, pin, j) => out.push(activities[pin ?? p.greedyPool[j]]));
        return out;
      },
    };
  }

  async segments(now: number): Promise<{ id: string; name: string }[]> {
    const definitions = this.definitions();
    const ids = new Set(this.memberships(await this.ruleEvents(), now));
    return definitions.filter((d) => ids.has(d.id)).map(({ id, name }) => ({ id, name }));
  }

  /**
   * What a segment report is about: the device's first segment among the server's published ones
   * (their count when none), with the policy version that defines them. Null without any.
   */
  async reportable(): Promise<{ policy: string; index: number; categories: number } | null> {
    const doc = this.server;
    if (!doc?.segments.length || this.host.consent === 'none') return null;
    const events = await this.ruleEvents();
    const { profile, user } = this.host;
    const index = primarySegmentIndex(doc.segments, { profile, lastEventHour: lastEventHour(events), user, now: this.host.now() });
    return { policy: doc.version, index, categories: doc.segments.length + 1 };
  }

  /** track() stored an event: caps and segments see it at once. */
  recorded(event: ProfileEvent): void {
    if (!this.events) return;
    this.events.push({ activityId: event.activityId, outcome: event.outcome, hour: event.hour });
    if (this.events.length > RULE_EVENTS_LIMIT) this.events.shift();
  }

  /** forget() or consent 'none': the events are read again from the (now empty) store; a sticky arm is drawn again. */
  profileErased(): void {
    this.events = null;
    this.arm = undefined;
  }

  private definitions(): Segment[] {
    return [...(this.server?.segments ?? []), ...this.shopSegments];
  }

  private memberships(events: readonly RuleEvent[], now: number): string[] {
    const definitions = this.definitions();
    if (!definitions.length) return [];
    const personal = this.host.consent !== 'none';
    return deviceSegments(definitions, personal ? this.host.profile : emptyAggregates(), events, personal ? this.host.user : {}, now);
  }

  private async ruleEvents(): Promise<RuleEvent[]> {
    if (this.host.consent === 'none') return [];
    if (!this.events) {
      try {
        this.events = (await this.host.store.events()).map(({ activityId, outcome, hour }) => ({ activityId, outcome, hour }));
      } catch {
        this.events = []; // the store reports its own failures
      }
    }
    return this.events;
  }

  /** The holdout in force: only while signals are sent (where lift can be measured), unless turned off. */
  private holdout(): Holdout | null {
    const h = this.host.options.holdout;
    if (h === false || !this.host.signals) return null;
    const share = h?.share ?? DEFAULT_HOLDOUT_SHARE;
    if (share <= 0) return null;
    const control = h?.control ?? 'shop-order';
    // One arm per page view (this page load: every slot of the page follows it), or per device when sticky.
    if (this.arm?.share !== share) {
      this.arm = { share, arm: h?.sticky ? stickyArm(share, this.host.random) : this.host.random() < share ? 'control' : 'vitrine' };
    }
    return { share, control, sticky: this.arm.arm };
  }
}
