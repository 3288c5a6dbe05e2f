/** Machine-readable reasons a public call can fail or degrade. */
export type VitrineErrorCode =
  | 'invalid_options'
  | 'invalid_input'
  | 'unknown_decision'
  | 'model_unavailable'
  | 'model_integrity'
  | 'model_invalid'
  | 'storage_unavailable'
  | 'scoring_failed'
  | 'signals_failed'
  /** The server's merchant policy (rules, segments, pacing) could not be fetched or was not valid. */
  | 'policy_unavailable'
  | 'closed'
  /** Something failed that has no better code (a platform error the SDK did not expect); `cause` holds it. */
  | 'internal';

/**
 * The one error type the SDK hands to callers. `field` names the offending input
 * (a dotted path such as `activities[3].id`) when the error is about bad input.
 */
export class VitrineError extends Error {
  readonly code: VitrineErrorCode;
  readonly field?: string;
  override readonly cause?: unknown;

  constructor(code: VitrineErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message);
    this.name = 'VitrineError';
    this.code = code;
    this.field = options.field;
    this.cause = options.cause;
  }

  toJSON(): { code: VitrineErrorCode; message: string; field?: string } {
    return { code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}) };
  }
}

export function toVitrineError(err: unknown, code: VitrineErrorCode, message: string): VitrineError {
  if (err instanceof VitrineError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new VitrineError(code, `${message}: ${detail}`, { cause: err });
}
