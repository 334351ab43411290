import type { Client } from '@elastic/elasticsearch';
import type { Counter } from 'prom-client';
import { DEFAULT_CATALOG, catalogOfDocumentId, catalogOfSource } from '../catalog';
import type { Logger } from '../logger';
import type { CatalogHit } from './catalog-search';

/**
 * Which catalogs the index holds, so that a search of the only one can leave its catalog filter out.
 *
 * Every search is pre-filtered by its catalog (core/search/filters.ts `catalogFilter`), and a filter costs a kNN
 * search even when every product passes it: Elasticsearch collects the passing documents (every photo of every
 * product, through the nested join) before it searches. Measured at 100,000 products × 4 photos, hybrid, force-merged:
 * p50 19.5 ms without a filter, 27.5 ms with the catalog filter (p95 24.8 / 32.1; one photo: 11.6 / 14.0 ms p50;
 * benchmarks/results/search-latency-4-photos-merged.md, search-latency-merged.md). Most deployments hold one catalog.
 *
 * What makes leaving it out safe:
 * - the catalogs are read from the index (a terms aggregation on `catalog`, products without the field counting as
 *   the default catalog), at most `ttlMs` old, refreshed in the background: a search never waits for it, and until
 *   it is known, or when reading it fails, searches keep the filter;
 * - a search that left the filter out checks every hit it answers with (`foreignHit`): a product of another catalog
 *   (one written since the catalogs were read) means the search runs again with the filter and the catalogs are
 *   read again. No product of another catalog is ever answered.
 * - searches that count facets keep the filter (their counts cover every candidate, not only the hits checked).
 */
export class CatalogScope {
  private known: { catalogs: Set<string>; at: number } | null = null;
  private reading: Promise<void> | null = null;
  /** Counts the foreign hits found: a reading started before one is not taken. */
  private generation = 0;

  constructor(
    private readonly es: Client,
    private readonly index: string,
    /** How old the catalogs may be (CATALOG_SCOPE_TTL_S); 0: never leave the filter out. */
    private readonly ttlMs: number,
    private readonly logger: Logger,
    /** Searches by how their catalog was kept (`filtered`, `unfiltered`, `rerun`). */
    private readonly counter?: Counter<'way'>,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether the search of `catalog` may leave its catalog filter out: the index held that catalog alone when last
   * read. Never waits: a stale or missing reading starts a new one and answers as it stands.
   */
  soleCatalog(catalog: string): boolean {
    if (this.ttlMs <= 0) return false;
    if (!this.known || this.now() - this.known.at > this.ttlMs) this.refresh();
    const sole = this.known !== null && this.known.catalogs.size === 1 && this.known.catalogs.has(catalog);
    this.counter?.inc({ way: sole ? 'unfiltered' : 'filtered' });
    return sole;
  }

  /** A search found a product of another catalog: forget what was read, read again. */
  foreignFound(): void {
    this.counter?.inc({ way: 'rerun' });
    this.generation++;
    this.known = null;
    this.refresh();
  }

  /** Reads the catalogs now (tests; the service reads in the background). */
  async read(): Promise<void> {
    this.refresh();
    while (this.reading) await this.reading;
  }

  private refresh(): void {
    if (this.reading) return;
    const generation = this.generation;
    this.reading = (async () => {
      try {
        const response = await this.es.search({
          index: this.index,
          size: 0,
          track_total_hits: false,
          // As GET /v1/catalogs counts them: a product without the field is the default catalog's.
          aggs: { catalogs: { terms: { field: 'catalog', missing: DEFAULT_CATALOG, size: 2 } } },
        });
        if (generation === this.generation) this.known = { catalogs: catalogsOf(response.aggregations as CatalogAggregations), at: this.now() };
      } catch (error) {
        this.known = null;
        this.logger.warn({ err: error }, 'could not read the catalogs of the index: searches keep the catalog filter');
      } finally {
        this.reading = null;
      }
      // A foreign hit was found while this reading ran: what it read may predate that product; read again.
      if (generation !== this.generation) this.refresh();
    })();
  }
}

interface CatalogAggregations {
  catalogs?: { buckets?: Array<{ key: string }> };
}

/** The catalogs of the aggregation's answer (products without a catalog already counted as the default's). */
export function catalogsOf(aggregations: CatalogAggregations | undefined): Set<string> {
  return new Set((aggregations?.catalogs?.buckets ?? []).map((bucket) => String(bucket.key)));
}

/**
 * Whether any hit is not a product of `catalog`: by its `_source`, or by its `_id` (`documentId`) where no fields were
 * fetched (the ids a hybrid's candidates step asks for); a hit with neither cannot be checked and counts as foreign.
 */
export function foreignHit(hits: CatalogHit[], catalog: string): boolean {
  return hits.some((hit) => (hit._source ? catalogOfSource(hit._source) : hit._id ? catalogOfDocumentId(hit._id) : undefined) !== catalog);
}
