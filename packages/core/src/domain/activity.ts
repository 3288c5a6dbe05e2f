/** What a shop hands the ranker, shared by the SDK, training and the server. */
export type FeatureValue = string | number | boolean;
export type FeatureRecord = Record<string, FeatureValue | null | undefined>;

/** Something a shop can show in a slot: a coupon, a flash sale, a bundle... */
export interface Activity {
  id: string;
  type: string;
  features?: Record<string, FeatureValue>;
  /** Eligibility window: ISO date string, epoch milliseconds or Date. */
  startsAt?: string | number | Date;
  endsAt?: string | number | Date;
}
