/**
 * The merchant's rules and segments as plain types (no schema library): what the SDK's public
 * types re-export. document.ts checks that its schemas produce exactly these.
 */
export const POLICY_FORMAT = 'vitrine-policy@1';

/** Which activities a rule is about: every given field must match (an empty match matches all). */
export interface Match {
  activity?: string | string[];
  type?: string | string[];
  /** Only for shoppers in this segment (computed on the device). */
  segment?: string;
}

/** The merchant's rules (see RulesSchema for each field's meaning and bounds). */
export interface Rules {
  exclude?: Match[];
  target?: { activity: string | string[]; segments: string[] }[];
  caps?: { match: Match; maxViews: number; perHours: number }[];
  hideAfter?: ('view' | 'click' | 'add_to_cart' | 'purchase' | 'dismiss')[];
  pacing?: { activity: string; metric: 'impressions' | 'redemptions'; perDay: number }[];
  boost?: { match: Match; multiply?: number; add?: number }[];
  pin?: { activity: string; position: number; segment?: string }[];
  diversity?: { maxPerType?: number; lambda?: number };
}

export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | {
      /** Answers (positive + negative outcomes) and acceptance over the shopper's history, optionally of one type or attribute. */
      history: {
        type?: string;
        /** An activity attribute as `name=value` (e.g. `coupon=Coffee House`). */
        attribute?: string;
        minAnswers?: number;
        maxAnswers?: number;
        /** Positive answers / answers, at least (needs at least one answer). */
        minAcceptance?: number;
      };
    }
  /** Has a history, and nothing tracked in the last `days` days. */
  | { inactiveDays: number }
  /** A shopper attribute (`user`) equals one of the values, or lies in [min, max]. */
  | { attribute: { key: string; in?: (string | number | boolean)[]; min?: number; max?: number } };

/** A merchant-defined group of shoppers. */
export interface Segment {
  id: string;
  name: string;
  when: Condition;
}

export interface PolicyDocument {
  format: typeof POLICY_FORMAT;
  version: string;
  rules: Rules;
  segments: Segment[];
  pacing: Record<string, number>;
  issuedAt: number;
}
