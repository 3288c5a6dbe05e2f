/**
 * Owns checking a merchant policy (`{ rules, segments }`, from the admin API or VITRINE_POLICY_FILE)
 * before it is stored: the shared schemas of @vitrine/core/policy (what every device can apply),
 * then what a schema cannot see: rules naming segments that do not exist, a budget given twice.
 */
import * as v from 'valibot';
import { RulesSchema, SegmentsSchema, type Rules, type Segment } from '@vitrine/core/policy';

/** Why a policy was refused; `field` is the dotted path of the offending value (`rules.pacing.0.perDay`). */
export class PolicyError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'PolicyError';
  }
}

const BodySchema = v.strictObject({ rules: RulesSchema, segments: SegmentsSchema });

export function parsePolicy(body: unknown): { rules: Rules; segments: Segment[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new PolicyError('body: must be a JSON object { "rules": {…}, "segments": […] }', 'body');
  }
  const result = v.safeParse(BodySchema, body);
  if (!result.success) {
    const issue = result.issues[0];
    const field = v.getDotPath(issue) ?? 'body';
    // The message names the field, never echoes the value (it could be anything, of any size).
    throw new PolicyError(`${field}: ${issue.message.slice(0, 200)}`, field);
  }
  const { rules, segments } = result.output;
  checkReferences(rules, segments);
  return { rules, segments };
}

function checkReferences(rules: Rules, segments: Segment[]): void {
  const known = new Set(segments.map((s) => s.id));
  const unknown = (id: string | undefined, field: string) => {
    if (id !== undefined && !known.has(id)) throw new PolicyError(`${field}: no segment "${id}" is defined`, field);
  };
  rules.exclude?.forEach((m, i) => unknown(m.segment, `rules.exclude.${i}.segment`));
  rules.caps?.forEach((c, i) => unknown(c.match.segment, `rules.caps.${i}.match.segment`));
  rules.boost?.forEach((b, i) => unknown(b.match.segment, `rules.boost.${i}.match.segment`));
  rules.pin?.forEach((p, i) => unknown(p.segment, `rules.pin.${i}.segment`));
  rules.target?.forEach((t, i) => t.segments.forEach((id, j) => unknown(id, `rules.target.${i}.segments.${j}`)));
  const budgets = new Set<string>();
  rules.pacing?.forEach((b, i) => {
    const key = pacingKey(b);
    if (budgets.has(key)) throw new PolicyError(`rules.pacing.${i}: a second ${b.metric} budget for "${b.activity}"`, `rules.pacing.${i}`);
    budgets.add(key);
  });
}

/** A budget's key: one per activity and metric. */
export const pacingKey = (b: { activity: string; metric: string }): string => `${b.activity}|${b.metric}`;
