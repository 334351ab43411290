/**
 * At most `limit` holders at once; the others wait in arrival order. The indexer runs many jobs at once (most of
 * them wait on I/O: image fetches, refreshes), but embedding is CPU-bound and already uses every core, so running
 * batches side by side only makes each one slower.
 */
export class Gate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await work();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
