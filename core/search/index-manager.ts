import { errors, type Client } from '@elastic/elasticsearch';
import type { Config } from '../config';
import { AppError, StartupError } from '../errors';
import type { Logger } from '../logger';
import { bulkWrite, type BulkAction } from './bulk';
import { buildIndexBody, compareMapping, modelFieldsMapping, type VectorFieldSpec } from './catalog-mapping';

/**
 * Owns the catalog index: versioned concrete indices `<alias>-v<N>` behind the alias `<alias>`.
 *
 * - `ensure(models)` creates v1 when nothing exists, otherwise checks the live mapping against mappings/products.json
 *   and each model's dims (a StartupError on disagreement) and adds the fields of models that are new.
 * - `migrate(...)` builds the next version, copies every document with point in time + search_after + bulk (the test
 *   distribution has no `_reindex`, and a re-embed must read and rewrite each document anyway), swaps the alias in
 *   one atomic request, then copies over what writers changed in the old index during the copy.
 */

export type CatalogDocument = Record<string, unknown> & { id?: string; indexed_at?: string };

export interface EnsureResult {
  index: string;
  created: boolean;
  addedModels: string[];
}

export interface MigrationOptions {
  models: VectorFieldSpec[];
  /** Rewrites a batch of documents on the way (re-embedding, say); `null` drops a document. */
  transform?: (documents: Array<{ id: string; source: CatalogDocument }>) => Promise<Array<CatalogDocument | null>>;
  batchSize?: number;
  onProgress?: (copied: number, total: number) => void;
  /** Delete the old index version after the swap. Default false: it stays for a rollback. */
  deleteOld?: boolean;
}

export interface MigrationResult {
  from: string;
  to: string;
  copied: number;
  caughtUp: number;
}

const PIT_KEEP_ALIVE = '2m';
/** Writers' clocks may trail ours a little; documents touched this long before the copy started are copied again. */
const CATCH_UP_MARGIN_MS = 5_000;
/** How often ensure reads the names again after losing the race to create an index to another process. */
const ENSURE_ATTEMPTS = 3;

export class IndexManager {
  readonly alias: string;

  constructor(
    private readonly es: Client,
    private readonly indexConfig: Config['index'],
    private readonly logger: Logger,
  ) {
    this.alias = indexConfig.alias;
  }

  versionName(version: number): string {
    return `${this.alias}-v${version}`;
  }

  /** The concrete index behind the alias, or null when the alias does not exist yet. */
  async currentIndex(): Promise<string | null> {
    try {
      const response = await this.es.indices.getAlias({ name: this.alias });
      return this.singleIndex(Object.keys(response));
    } catch (error) {
      if (error instanceof errors.ResponseError && error.statusCode === 404) return null;
      throw error;
    }
  }

  /** Versions that exist, highest first. */
  async versions(): Promise<number[]> {
    return (await this.readNames()).versions;
  }

  /**
   * Creates the next version behind the alias when there is no alias, otherwise checks the index behind it. Safe when
   * several processes start at once: the one whose create fails because another process made that index first reads
   * the names again and checks the winner's index like any other.
   */
  async ensure(models: VectorFieldSpec[]): Promise<EnsureResult> {
    for (let attempt = 1; ; attempt++) {
      const names = await this.readNames();
      if (names.concreteIndex) {
        throw new StartupError('alias_conflict', `${this.alias} is a concrete index, not an alias; move it to ${this.versionName(1)} first`);
      }
      const current = this.singleIndex(names.aliasedIndices);
      if (current) {
        const missing = await this.checkMapping(current, models);
        for (const model of missing) await this.addModel(model, current);
        return { index: current, created: false, addedModels: missing.map((m) => m.modelId) };
      }
      const index = this.versionName((names.versions[0] ?? 0) + 1);
      try {
        await this.createIndex(index, models, { alias: true });
      } catch (error) {
        const lostRace = error instanceof errors.ResponseError && error.body?.error?.type === 'resource_already_exists_exception';
        if (!lostRace) throw error;
        // Bounded: each lost race means another process made progress, but a name that keeps appearing must not spin.
        if (attempt >= ENSURE_ATTEMPTS) {
          throw new StartupError('index_create_conflict', `${index} kept being created by someone else; gave up after ${attempt} attempts`, error);
        }
        this.logger.info({ index, alias: this.alias, attempt }, 'another process created the catalog index first; checking it');
        continue;
      }
      this.logger.info({ index, alias: this.alias, models: models.map((m) => m.modelId) }, 'created catalog index');
      return { index, created: true, addedModels: [] };
    }
  }

  /** Throws StartupError(mapping_mismatch) on disagreement; returns the models whose fields do not exist yet. */
  async checkMapping(index: string, models: VectorFieldSpec[]): Promise<VectorFieldSpec[]> {
    const response = await this.es.indices.getMapping({ index });
    const live = Object.values(response)[0]?.mappings ?? {};
    const { problems, missingModels } = compareMapping(live as Record<string, unknown>, models);
    if (problems.length > 0) {
      throw new StartupError('mapping_mismatch', `index ${index} does not match the configuration: ${problems.join('; ')}`);
    }
    return missingModels;
  }

  /** Adds one model's vector and metadata fields to an index (the current one by default). */
  async addModel(model: VectorFieldSpec, index?: string): Promise<void> {
    const target = index ?? (await this.requireCurrent());
    await this.es.indices.putMapping({ index: target, ...modelFieldsMapping(model) });
    this.logger.info({ index: target, model: model.modelId, dims: model.dims, type: model.index.type }, 'added model vector field');
  }

  async createIndex(index: string, models: VectorFieldSpec[], options: { alias?: boolean } = {}): Promise<void> {
    const body = buildIndexBody(this.indexConfig, models);
    await this.es.indices.create({
      index,
      settings: body.settings,
      mappings: body.mappings,
      ...(options.alias ? { aliases: { [this.alias]: { is_write_index: true } } } : {}),
    });
  }

  /**
   * Runs `load`, a bulk load into `index`, as Elasticsearch advises for one: refreshes off (`refresh_interval: -1`:
   * no small segments made and merged while loading) and no replicas (each replica would index every document again;
   * one copied after the load gets the finished segments). Afterwards, also when `load` fails, the index gets the
   * configured refresh interval and replica count (INDEX_REFRESH_INTERVAL, INDEX_REPLICAS) and a refresh. The
   * configured values, not the ones found: a load that was killed half-way left -1 behind, which must not stick.
   */
  async bulkLoad<T>(index: string, load: () => Promise<T>): Promise<T> {
    await this.es.indices.putSettings({ index, settings: { index: { refresh_interval: '-1', number_of_replicas: 0 } } });
    const restore = async () => {
      await this.es.indices.putSettings({ index, settings: { index: { refresh_interval: this.indexConfig.refreshInterval, number_of_replicas: this.indexConfig.replicas } } });
      await this.es.indices.refresh({ index });
    };
    let result: T;
    try {
      result = await load();
    } catch (error) {
      // The load's error is the one to report; a restore that fails as well (the index gone, say) is only logged.
      await restore().catch((restoreError: unknown) => this.logger.warn({ index, err: restoreError }, 'bulk load: could not restore the index settings'));
      throw error;
    }
    await restore();
    return result;
  }

  async migrate(options: MigrationOptions): Promise<MigrationResult> {
    const from = await this.requireCurrent();
    const latest = (await this.versions())[0] ?? 0;
    const to = this.versionName(latest + 1);
    const batchSize = options.batchSize ?? 500;
    await this.createIndex(to, options.models);
    this.logger.info({ from, to }, 'migration: copying documents');
    const startedAt = Date.now();
    try {
      const total = (await this.es.count({ index: from })).count;
      let copied = 0;
      // A bulk load: the configured refresh interval and replicas come back, refreshed, before the swap.
      await this.bulkLoad(to, () =>
        this.scan(from, undefined, batchSize, async (hits) => {
          copied += await this.copyBatch(hits, to, options, false);
          options.onProgress?.(copied, total);
        }),
      );
      await this.es.indices.updateAliases({
        actions: [
          { remove: { index: from, alias: this.alias } },
          { add: { index: to, alias: this.alias, is_write_index: true } },
        ],
      });
      this.logger.info({ from, to, copied }, 'migration: alias swapped');
      // Writes that landed in the old version while we copied: copy them again, unless the new version has newer data.
      let caughtUp = 0;
      await this.es.indices.refresh({ index: from });
      const since = new Date(startedAt - CATCH_UP_MARGIN_MS).toISOString();
      await this.scan(from, { range: { indexed_at: { gte: since } } }, batchSize, async (hits) => {
        caughtUp += await this.copyBatch(hits, to, options, true);
      });
      await this.es.indices.refresh({ index: to });
      if (options.deleteOld) await this.es.indices.delete({ index: from });
      this.logger.info({ from, to, copied, caughtUp }, 'migration: done');
      return { from, to, copied, caughtUp };
    } catch (error) {
      // The alias still points at `from` unless the swap happened; a half-built `to` is removed so a retry starts clean.
      if ((await this.currentIndex()) !== to) await this.es.indices.delete({ index: to }, { ignore: [404] });
      throw error;
    }
  }

  /** Deletes the alias and every version: for tests and for `reset` tooling, never called by the services. */
  async dropAll(): Promise<void> {
    for (const version of await this.versions()) {
      await this.es.indices.delete({ index: this.versionName(version) }, { ignore: [404] });
    }
  }

  /**
   * The alias's name and the versions as one snapshot (a single `_resolve/index` request): separate reads race with
   * another process creating v1 and its alias in between, and then see an alias where there was none (taken for a
   * concrete index of that name) or a v1 without its alias (so a v2 would be made beside it).
   */
  private async readNames(): Promise<{ concreteIndex: boolean; aliasedIndices: string[]; versions: number[] }> {
    const response = await this.es.indices.resolveIndex({ name: [this.alias, `${this.alias}-v*`], expand_wildcards: 'all', ignore_unavailable: true });
    const pattern = new RegExp(`^${this.alias.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-v(\\d+)$`);
    return {
      concreteIndex: response.indices.some((index) => index.name === this.alias),
      aliasedIndices: [response.aliases.find((alias) => alias.name === this.alias)?.indices ?? []].flat(),
      versions: response.indices
        .map((index) => pattern.exec(index.name)?.[1])
        .filter((v): v is string => v !== undefined)
        .map(Number)
        .sort((a, b) => b - a),
    };
  }

  private singleIndex(indices: string[]): string | null {
    if (indices.length > 1) throw new StartupError('alias_ambiguous', `alias ${this.alias} points at ${indices.join(', ')}; it must name one index`);
    return indices[0] ?? null;
  }

  private async requireCurrent(): Promise<string> {
    const current = await this.currentIndex();
    if (!current) throw new AppError('index_missing', `alias ${this.alias} does not exist; start the API or indexer once to create it`, 503);
    return current;
  }

  /**
   * Every document of `index` matching `query`, in batches, over a point in time, sorted by `_shard_doc`. `source`
   * picks the fields; by default the whole document, vectors included.
   */
  async scan(
    index: string,
    query: Record<string, unknown> | undefined,
    size: number,
    onBatch: (hits: Array<{ _id: string; _source: CatalogDocument }>) => Promise<void>,
    source?: string[],
  ): Promise<void> {
    const pit = await this.es.openPointInTime({ index, keep_alive: PIT_KEEP_ALIVE });
    try {
      let searchAfter: unknown[] | undefined;
      for (;;) {
        const response = await this.es.search<CatalogDocument>({
          pit: { id: pit.id, keep_alive: PIT_KEEP_ALIVE },
          size,
          sort: [{ _shard_doc: 'asc' }],
          track_total_hits: false,
          // Vectors are left out of _source by default (index.mapping.exclude_source_vectors); a copy needs them.
          _source: (source ?? { exclude_vectors: false }) as never,
          ...(query ? { query } : {}),
          ...(searchAfter ? { search_after: searchAfter as never } : {}),
        });
        const hits = response.hits.hits;
        if (hits.length === 0) return;
        await onBatch(hits.map((hit) => ({ _id: hit._id as string, _source: hit._source ?? {} })));
        searchAfter = hits[hits.length - 1]?.sort as unknown[];
      }
    } finally {
      await this.es.closePointInTime({ id: pit.id }).catch(() => undefined);
    }
  }

  /**
   * Writes one batch into `to`. With `onlyIfNewer`, a document is written only when `to` lacks it or holds an older
   * `indexed_at`, and the write is conditional on the sequence number read (a concurrent writer wins).
   */
  private async copyBatch(
    hits: Array<{ _id: string; _source: CatalogDocument }>,
    to: string,
    options: MigrationOptions,
    onlyIfNewer: boolean,
  ): Promise<number> {
    const transformed = options.transform
      ? await options.transform(hits.map((hit) => ({ id: hit._id, source: hit._source })))
      : hits.map((hit) => hit._source);
    const existing = onlyIfNewer ? await this.es.mget<CatalogDocument>({ index: to, ids: hits.map((h) => h._id), _source_includes: ['indexed_at'] }) : undefined;
    const actions: BulkAction[] = [];
    hits.forEach((hit, position) => {
      const document = transformed[position];
      if (!document) return;
      if (!existing) {
        actions.push({ op: 'index', index: to, id: hit._id, document });
        return;
      }
      const current = existing.docs[position] as { found?: boolean; _seq_no?: number; _primary_term?: number; _source?: CatalogDocument } | undefined;
      if (!current?.found) {
        actions.push({ op: 'create', index: to, id: hit._id, document });
      } else if ((current._source?.indexed_at ?? '') < (hit._source.indexed_at ?? '')) {
        actions.push({ op: 'index', index: to, id: hit._id, document, ifSeqNo: current._seq_no!, ifPrimaryTerm: current._primary_term! });
      }
    });
    const result = await bulkWrite(this.es, actions);
    const real = result.failures.filter((failure) => !(onlyIfNewer && failure.status === 409));
    if (real.length > 0) {
      const first = real[0]!;
      throw new AppError('migration_bulk_failed', `${real.length} documents failed to copy into ${to}; first: ${first.id}: ${first.type}: ${first.reason}`);
    }
    return result.succeeded;
  }
}
