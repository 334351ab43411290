import type { Client } from '@elastic/elasticsearch';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../logger';
import { catalogFilter, type FilterClause } from './filters';

/**
 * How long a count is used (the API's): a catalog's make-up changes slowly, and a stale share only moves a search
 * between two ways that both find its products.
 */
export const FILTER_SHARE_TTL_MS = 60_000;

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
 * with the filters, a few to 30 ms at a million products; the catalog's own size is counted once for every filter),
 * at most `maxCounting` at a time, so that searches with ever new filters (a price slider) cost at most that many
 * counts in flight. Counts are kept `ttlMs`.
 */
export class FilterShare {
  /** Counts by key, each kept `ttlMs`: a filter's share (`[catalog, filters]`) or a catalog's size (`[catalog]`). */
  private readonly counted: LRUCache<string, number>;
  /** The filters being counted now. */
  private readonly counting = new Set<string>();
  private readonly maxCounting: number;

  constructor(
    private readonly es: Client,
    private readonly index: string,
    options: { ttlMs: number; max?: number; maxCounting?: number },
    private readonly logger: Logger,
    now: () => number = Date.now,
  ) {
    // The clock read at every look-up (ttlResolution 0), so that a count is used exactly ttlMs.
    this.counted = new LRUCache({ max: options.max ?? 1000, ttl: options.ttlMs, ttlResolution: 0, perf: { now } });
    this.maxCounting = options.maxCounting ?? 2;
  }

  /** The share (0–1) of `catalog`'s products that pass `filters` when counted lately; else undefined (and counted now). */
  share(catalog: string, filters: FilterClause[]): number | undefined {
    if (filters.length === 0) return 1;
    const key = JSON.stringify([catalog, filters]);
    const known = this.counted.get(key);
    if (known !== undefined) return known;
    if (!this.counting.has(key) && this.counting.size < this.maxCounting) void this.count(key, catalog, filters);
    return undefined;
  }

  private async count(key: string, catalog: string, filters: FilterClause[]): Promise<void> {
    this.counting.add(key);
    try {
      const scope = catalogFilter(catalog);
      const [passing, all] = await Promise.all([this.es.count({ index: this.index, query: { bool: { filter: [scope, ...filters] } } }), this.size(catalog, scope)]);
      this.counted.set(key, all > 0 ? passing.count / all : 1);
    } catch (error) {
      // Unknown stays unknown: the search asks every model, which is never worse in recall.
      this.logger.warn({ err: error }, 'counting the products a filter passes failed');
    } finally {
      this.counting.delete(key);
    }
  }

  /** The catalog's products: every filter's share is of them, so counted once a `ttlMs`, not once a filter. */
  private async size(catalog: string, scope: FilterClause): Promise<number> {
    const key = JSON.stringify([catalog]);
    const known = this.counted.get(key);
    if (known !== undefined) return known;
    const { count } = await this.es.count({ index: this.index, query: { bool: { filter: [scope] } } });
    this.counted.set(key, count);
    return count;
  }
}
