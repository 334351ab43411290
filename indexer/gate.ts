/**
 * At most `limit` holders at once; the others wait. The indexer runs many jobs at once (most of them wait on I/O:
 * image fetches, refreshes), but embedding is CPU-bound and already uses every core, so running batches side by side
 * only makes each one slower.
 *
 * - Priorities: catalog changes (`high`) are served before re-embedding (`low`) whatever their arrival order, and
 *   `low` work never holds more than `lowLimit` slots, so a large re-embed leaves room for fresh catalog changes.
 * - A released slot is handed straight to the waiter it admits (p-limit's semantics): nobody arriving in between can
 *   slip in, so the limit holds at every instant.
 */
export type Priority = 'high' | 'low';

interface Waiter {
  priority: Priority;
  admit: () => void;
}

export class Gate {
  private active = { high: 0, low: 0 };
  private readonly waiting: Record<Priority, Waiter[]> = { high: [], low: [] };
  private readonly lowLimit: number;

  /** `lowLimit` (default `limit`): the most slots `low` work may hold at once. */
  constructor(
    private readonly limit: number,
    lowLimit = limit,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`gate limit must be a positive integer, got ${limit}`);
    this.lowLimit = Math.max(1, Math.min(limit, lowLimit));
  }

  /** Holders now (for tests and metrics). */
  get holders(): number {
    return this.active.high + this.active.low;
  }

  private canAdmit(priority: Priority): boolean {
    if (this.holders >= this.limit) return false;
    return priority === 'high' || this.active.low < this.lowLimit;
  }

  async run<T>(work: () => Promise<T>, priority: Priority = 'high'): Promise<T> {
    // Nobody of the same or a higher priority may be overtaken: join the queue when anyone such is waiting.
    const queued = this.waiting.high.length > 0 || (priority === 'low' && this.waiting.low.length > 0);
    if (!queued && this.canAdmit(priority)) this.active[priority]++;
    else await new Promise<void>((resolve) => this.waiting[priority].push({ priority, admit: resolve }));
    try {
      return await work();
    } finally {
      this.active[priority]--;
      this.admitNext();
    }
  }

  /** Hands free slots to waiters, high before low; the slot is counted before the waiter resumes. */
  private admitNext(): void {
    for (;;) {
      const next = this.waiting.high.length > 0 ? this.waiting.high : this.waiting.low;
      const waiter = next[0];
      if (!waiter || !this.canAdmit(waiter.priority)) return;
      next.shift();
      this.active[waiter.priority]++;
      waiter.admit();
    }
  }
}
