/**
 * Owns sharing one computation between callers: a value computed at most once per `ttlMs`;
 * callers while it is being computed share it; a failed computation is not kept (the next caller
 * tries again); `invalidate()` drops it, and a computation that was running then is not kept either.
 */
export class Cached<T> {
  private entry: { at: number; value: Promise<T> } | null = null;

  constructor(
    private readonly compute: () => Promise<T>,
    private readonly ttlMs: number,
  ) {}

  get(): Promise<T> {
    // While a computation runs (`at` = Infinity) every caller shares it; after, it is reused for `ttlMs`.
    if (this.entry && Date.now() - this.entry.at < this.ttlMs) return this.entry.value;
    const value = this.compute();
    const entry = { at: Number.POSITIVE_INFINITY, value };
    this.entry = entry;
    value.then(
      () => {
        if (this.entry === entry) entry.at = Date.now();
      },
      () => {
        if (this.entry === entry) this.entry = null;
      },
    );
    return value;
  }

  invalidate(): void {
    this.entry = null;
  }
}
