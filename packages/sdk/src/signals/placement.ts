import type { FeatureEncoder, ProfileAggregates } from '@vitrine/core/features';
import type { Activity, FeatureRecord } from '@vitrine/core/domain';
import { headExamples, headLayout, type HeadExample } from '@vitrine/core/privacy';
import type { LoadedModel } from '../model/loader';
import type { ShadowScorer } from './shadow';

/** What the stage keeps per placed item of a decision, until the shopper acts on it. */
export interface Placement {
  slot: number;
  /** Logging propensity of this item at this slot. */
  propensity: number;
  /** The item's residual-head inputs and logit under the ranking model, when the next batch may carry an update. */
  example?: HeadExample;
  /** The shadow model's propensity for the same placement, when a shadow is published. */
  shadowPropensity?: number;
  /** The page view was in the holdout's control arm. */
  control?: true;
  /** The two above are computed after rank() has returned (off its latency); track() waits for this. */
  pending?: Promise<void>;
}

/** What rank() hands the signals stage about one decision. */
export interface RankedSlate {
  /** The eligible candidates, in the shop's order. */
  activities: Activity[];
  /** Candidate indices, in placement order (slot 0 first). */
  order: number[];
  /** Logging propensity per slot. */
  propensities: number[];
  /** The page view's holdout arm ('vitrine' when no holdout runs). */
  arm?: 'vitrine' | 'control';
  /** Under the merchant's rules: the same policy's propensities with another model's scores (see policy/rules.ts). */
  propensitiesUnder?: (activities: readonly Activity[], scores: ArrayLike<number>, positions: number[]) => number[];
  epsilon: number;
  encoder: FeatureEncoder;
  context: FeatureRecord;
  user: FeatureRecord;
  profile: ProfileAggregates;
}

export interface FillPlacementsOptions {
  slate: RankedSlate;
  /** The placements to complete, by slot (items outside the published catalog are not among them). */
  placed: [slot: number, placement: Placement][];
  /** The ranking model when the next batch may carry an update (head examples wanted), else null. */
  updateModel: LoadedModel | null;
  shadow: ShadowScorer | null;
}

/** Adds the head examples and shadow propensities to placements (one forward pass per placed item). */
export function fillPlacements({ slate, placed, updateModel, shadow }: FillPlacementsOptions): void {
  const { activities, order, encoder } = slate;
  if (updateModel) {
    const items = placed.map(([slot]) => activities[order[slot]]);
    const rows = encoder.encodeBatch(items, slate.context, slate.user, slate.profile);
    const layout = headLayout(updateModel.manifest);
    if (layout) {
      const examples = headExamples(layout, updateModel.weights, rows, items.length);
      placed.forEach(([, placement], k) => {
        placement.example = examples[k];
      });
    }
  }
  const q = shadow?.propensities(
    slate,
    placed.map(([slot]) => slot),
  );
  if (q)
    placed.forEach(([, placement], k) => {
      placement.shadowPropensity = q[k];
    });
}
