import { emptyAggregates, own, type FeatureEncoder, type ProfileAggregates } from '@vitrine/core/features';
import type { Activity, Explanation, ExplanationReason, FeatureRecord } from '../types';
import type { Scorer } from '../scoring/scorer';
import { knownActivityIds, type DecisionInputs } from './explain';

// A lazy chunk (vitrine.ts imports it on the first explain()): pages that never ask "why" don't download it.

/** An activity with nothing of its own: an id, type and features no model has a weight for. */
const BLANK_OFFER = { id: '', type: '' } as const satisfies Activity;
const EMPTY: FeatureRecord = {};

/** A contribution smaller than this (0.1 percentage points) is no reason either way. */
const NEGLIGIBLE = 0.001;

/**
 * "Why this offer": leave-one-group-out attribution. Each group's contribution is the card's
 * score minus its score with that group's inputs removed (the page context emptied, the profile
 * emptied, the shopper's attributes dropped, or the offer's own id, type and features blanked),
 * every score from the same encoder and scorer that ranked it. Removing the inputs of a reason
 * with a positive contribution therefore lowers the score by exactly that contribution. Groups
 * whose inputs are already empty (a first visit has no history) are not reasons.
 */
export async function explainPlacement(
  decisionId: string,
  activity: Activity,
  inputs: DecisionInputs | undefined,
  encoder: FeatureEncoder | null,
  scorer: Scorer | null,
): Promise<Explanation> {
  if (!inputs || !encoder || !scorer) {
    const why = inputs ? 'no model is ranking now' : 'the model could not rank';
    const summary = `Shown in the shop's order (${why})`;
    return { decisionId, activityId: activity.id, score: null, coldStart: false, explored: false, summary, reasons: [] };
  }
  const { context, user, profile } = inputs;
  const score1 = async (a: Activity, c: FeatureRecord, u: FeatureRecord, p: ProfileAggregates) =>
    (await scorer.score(encoder.encodeFactored([a], c, u, p)))[0];
  const score = await score1(activity, context, user, profile);
  const known = knownActivityIds(encoder);
  const coldStart = known !== null && !known.has(activity.id);
  const explored = inputs.exploredIds.has(activity.id);
  const hasHistory = profile.total.positives + profile.total.negatives + profile.total.views > 0;
  const groups: { group: ExplanationReason['group']; present: boolean; without: () => Promise<number>; text: (up: boolean) => string }[] = [
    {
      group: 'context',
      present: Object.keys(context).length > 0,
      without: () => score1(activity, EMPTY, user, profile),
      text: (up) => `${up ? 'Fits' : 'Fits less well'} what you are shopping for now (${describe(context)})`,
    },
    {
      group: 'history',
      present: hasHistory,
      without: () => score1(activity, context, user, emptyAggregates()),
      text: (up) => historyText(activity, profile, up),
    },
    {
      group: 'shopper',
      present: Object.keys(user).length > 0,
      without: () => score1(activity, context, EMPTY, profile),
      text: (up) => `${up ? 'Matches' : 'Matches less well'} what you told the shop about yourself (${describe(user)})`,
    },
    {
      group: 'offer',
      present: true,
      without: () => score1({ ...BLANK_OFFER }, context, user, profile),
      text: (up) =>
        coldStart
          ? `A new offer, judged from what it is (${offerDescription(activity)})${up ? '' : ': similar offers are taken less often'}`
          : up
            ? `${activity.type} offers like this one are often taken`
            : `${activity.type} offers like this one are taken less often than others`,
    },
  ];
  const reasons: ExplanationReason[] = [];
  for (const g of groups) {
    if (!g.present) continue;
    const contribution = score - (await g.without());
    if (Math.abs(contribution) < NEGLIGIBLE) continue;
    reasons.push({ group: g.group, contribution, text: g.text(contribution > 0) });
  }
  reasons.sort((a, b) => b.contribution - a.contribution);
  if (explored) {
    // Not a score effect: the policy placed it to learn; that is why it is here, so it leads.
    reasons.unshift({
      group: 'exploration',
      contribution: 0,
      text: coldStart ? 'Shown to learn about a new offer' : 'Shown in a random spot to learn what shoppers like',
    });
  }
  const top = reasons[0];
  const summary = top && (top.group === 'exploration' || top.contribution > 0) ? top.text : 'Shown in the order the model predicts';
  return { decisionId, activityId: activity.id, score, coldStart, explored, summary, reasons };
}

function historyText(activity: Activity, profile: ProfileAggregates, up: boolean): string {
  const counts = own(profile.byType, activity.type);
  const answered = counts ? counts.positives + counts.negatives : 0;
  if (counts && answered > 0) {
    if (up && counts.positives * 2 >= answered) return `You often take ${activity.type} offers`;
    if (!up && counts.positives * 2 < answered) return `You usually pass on ${activity.type} offers`;
    return `You took ${counts.positives} of ${answered} ${activity.type} offers`;
  }
  return up ? 'Based on the offers you took before' : 'You took other kinds of offers before';
}

/** Up to three `value`s of a record, for a reason's text. */
function describe(record: FeatureRecord): string {
  return Object.values(record)
    .filter((v) => v !== null && v !== undefined && v !== '')
    .slice(0, 3)
    .map(String)
    .join(', ');
}

function offerDescription(activity: Activity): string {
  const attrs = Object.entries(activity.features ?? {})
    .filter(([, v]) => typeof v === 'string' || typeof v === 'number')
    .slice(0, 2)
    .map(([k, v]) => `${k} ${v}`);
  return [activity.type, ...attrs].join(', ');
}
