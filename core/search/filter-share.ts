import type { Client } from '@elastic/elasticsearch';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../logger';
import { catalogFilter, type FilterClause } from './filters';

/**
 * The share of a catalog's products that a search's filters pass, for `HYBRID_CANDIDATES=auto`: a filter that most
 * products pass lets the main model alone propose the hybrid's candidates, as a search without filters does.
 *
 * Measured at 1,000,000 products (benchmarks/results/hybrid-candidates-fanout-int8-m32-ct4.md): with half the catalog
 * passing, the main model's candidates hold 0.988 of the exact hybrid's top 10 against 0.992 from every model, in
 * about half the time (both requests p50 31.6 against 68.7 ms; on an earlier build of the index 0.992 against 0.996,
 * 35.8 against 63.1 ms); with 5 % passing they hold 0.929 against 0.990, as
 * each model's filtered graph search misses products that the other finds.
 *
 * Like the catalog scope (catalog-scope.ts), a search never waits for it: the share of filters not counted lately is
 * unknown (the search asks every model, as before) and a count starts in the background (`_count` of the catalog
 * with and without the filters; a few to 30 ms at a million products), at most `maxCounting` at a time, so that
 * searches with ever new filters (a price slider) cost at most that many counts in flight. A share is kept `ttlMs`.
 */
/** How long a counted share is used (the API's): a catalog's make-up changes slowly, and a stale share only moves a search between two ways that both find its products. */
export const FILTER_SHARE_TTL_MS = 60_000;

export class FilterShare {
  private readonly shares: LRUCache<string, { share: number; at: number }>;
  /** The filters being counted now. */
  private readonly counting = new Set<string>();
  private readonly ttlMs: number;
  private readonly maxCounting: number;

  constructor(
    private readonly es: Client,
    private readonly index: string,
    options: { ttlMs: number; max?: number; maxCounting?: number },
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.shares = new LRUCache({ max: options.max ?? 1000 });
    this.ttlMs = options.ttlMs;
    this.maxCounting = options.maxCounting ?? 2;
  }

  /** The share (0–1) of `catalog`'s products that pass `filters` when counted lately; else undefined (and counted now). */
  share(catalog: string, filters: FilterClause[]): number | undefined {
    if (filters.length === 0) return 1;
    const key = JSON.stringify([catalog, filters]);
    const known = this.shares.get(key);
    if (known && this.now() - known.at <= this.ttlMs) return known.share;
    if (!this.counting.has(key) && this.counting.size < this.maxCounting) void this.count(key, catalog, filters);
    return undefined;
  }

  /** Counts now (tests; searches count in the background). */
  async countNow(catalog: string, filters: FilterClause[]): Promise<number> {
    await this.count(JSON.stringify([catalog, filters]), catalog, filters);
    return this.share(catalog, filters) ?? 1;
  }

  private async count(key: string, catalog: string, filters: FilterClause[]): Promise<void> {
    this.counting.add(key);
    try {
      const scope = catalogFilter(catalog);
      const [passing, all] = await Promise.all([
        this.es.count({ index: this.index, query: { bool: { filter: [scope, ...filters] } } }),
        this.es.count({ index: this.index, query: { bool: { filter: [scope] } } }),
      ]);
      this.shares.set(key, { share: all.count > 0 ? passing.count / all.count : 1, at: this.now() });
    } catch (error) {
      // Unknown stays unknown: the search asks every model, which is never worse in recall.
      this.logger.warn({ err: error }, 'counting the products a filter passes failed');
    } finally {
      this.counting.delete(key);
    }
  }
}
