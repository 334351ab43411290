/**
 * Groups single submissions into batches: a batch runs when it holds `maxItems` or `maxWaitMs` after its first item,
 * whichever is first. Each submission's promise settles with its own item's result, so a bad item fails alone.
 * Several batches may be in flight at once (the worker's concurrency bounds the items in flight).
 */
export type BatchRunner<I, R> = (items: I[]) => Promise<Array<{ ok: true; value: R } | { ok: false; error: unknown }>>;

interface Pending<I, R> {
  item: I;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

export class MicroBatcher<I, R> {
  private pending: Array<Pending<I, R>> = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly run: BatchRunner<I, R>,
    private readonly maxItems: number,
    private readonly maxWaitMs: number,
  ) {}

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.maxItems) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
    });
  }

  /** Runs what is pending now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending.splice(0, this.maxItems);
    if (this.pending.length > 0) this.timer = setTimeout(() => this.flush(), 0);
    const running = this.execute(batch);
    this.inFlight.add(running);
    void running.finally(() => this.inFlight.delete(running));
  }

  private async execute(batch: Array<Pending<I, R>>): Promise<void> {
    try {
      const results = await this.run(batch.map((entry) => entry.item));
      batch.forEach((entry, position) => {
        const result = results[position];
        if (!result) entry.reject(new Error('the batch returned no result for this item'));
        else if (result.ok) entry.resolve(result.value);
        else entry.reject(result.error);
      });
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }

  /** Runs what is pending and waits for every batch in flight. */
  async drain(): Promise<void> {
    this.flush();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}
