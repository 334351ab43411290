import { errors, type Client } from '@elastic/elasticsearch';
import type { Config } from '../config';
import { AppError, StartupError } from '../errors';
import type { Logger } from '../logger';
import { buildIndexBody, compareMapping, modelFieldsMapping, type MappingCheck, type VectorFieldSpec } from './catalog-mapping';
import { copyDocuments, scanIndex, type DocumentTransform, type ScanHit } from './document-copy';
import { readLayout, setReplicas, waitForReplicas, type IndexLayout } from './index-layout';
import { upgradeDocument } from './photos';

/**
 * Owns the catalog index: versioned concrete indices `<alias>-v<N>` behind the alias `<alias>`.
 *
 * - `ensure(models)` creates v1 when nothing exists, otherwise checks the live mapping against mappings/products.json
 *   and each model's dims (a StartupError on disagreement) and adds the fields of models that are new.
 * - `migrate(...)` builds the next version, copies every document with point in time + search_after + bulk (the test
 *   distribution has no `_reindex`, and a re-embed must read and rewrite each document anyway), swaps the alias in
 *   one atomic request, then copies over what writers changed in the old index during the copy. An index of the
 *   one-photo layout (before several photos per product) is copied into the photos layout on the way, each product's
 *   one photo keeping its vectors; `ensure` refuses to serve such an index until then.
 * - Versions are created with INDEX_SHARDS primaries and INDEX_REPLICAS replicas. A migration loads without replicas
 *   (each document is written once, not once per copy), then adds them and waits for them before the swap.
 */

export type { CatalogDocument } from './document-copy';

export interface EnsureResult {
  index: string;
  created: boolean;
  addedModels: string[];
}

export interface MigrationOptions {
  models: VectorFieldSpec[];
  /** Rewrites a batch of documents on the way (re-embedding, say); `null` drops a document. */
  transform?: DocumentTransform;
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

/**
 * How a version is created for a bulk load, as Elasticsearch advises: no refreshes (no small segments made and merged
 * while loading) and no replicas (each would index every document again; one copied afterwards gets the finished
 * segments). `endBulkLoad` sets the configured ones.
 */
export const BULK_LOAD_SETTINGS = { refreshInterval: '-1', replicas: 0 } as const;

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
  async ensure(models: VectorFieldSpec[], options: { allowOnePhotoLayout?: boolean } = {}): Promise<EnsureResult> {
    for (let attempt = 1; ; attempt++) {
      const names = await this.readNames();
      if (names.concreteIndex) {
        throw new StartupError('alias_conflict', `${this.alias} is a concrete index, not an alias; move it to ${this.versionName(1)} first`);
      }
      const current = this.singleIndex(names.aliasedIndices);
      if (current) {
        await this.checkLayout(current);
        const { missingModels: missing, missingFields, onePhotoLayout } = await this.checkMapping(current, models);
        // `lookalike index migrate` copies such an index into the photos layout; nothing else may touch it.
        if (onePhotoLayout) {
          if (options.allowOnePhotoLayout) return { index: current, created: false, addedModels: [] };
          throw new StartupError('index_migration_needed', `index ${current} holds one photo per product (written by an older release): stop the indexers and run \`lookalike index migrate\` once`);
        }
        if (Object.keys(missingFields).length > 0) {
          await this.es.indices.putMapping({ index: current, properties: missingFields as never });
          this.logger.info({ index: current, fields: Object.keys(missingFields) }, 'added new base fields to the catalog index');
        }
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

  /**
   * Throws StartupError(mapping_mismatch) on disagreement; returns the models and the base fields that do not exist
   * yet (both can be added in place).
   */
  async checkMapping(index: string, models: VectorFieldSpec[]): Promise<Pick<MappingCheck, 'missingModels' | 'missingFields' | 'onePhotoLayout'>> {
    const response = await this.es.indices.getMapping({ index });
    const live = Object.values(response)[0]?.mappings ?? {};
    const { problems, missingModels, missingFields, onePhotoLayout } = compareMapping(live as Record<string, unknown>, models);
    if (problems.length > 0) {
      throw new StartupError('mapping_mismatch', `index ${index} does not match the configuration: ${problems.join('; ')}`);
    }
    return { missingModels, missingFields, onePhotoLayout };
  }

  /** Adds one model's vector and metadata fields to an index (the current one by default). */
  async addModel(model: VectorFieldSpec, index?: string): Promise<void> {
    const target = index ?? (await this.requireCurrent());
    await this.es.indices.putMapping({ index: target, ...modelFieldsMapping(model) });
    this.logger.info({ index: target, model: model.modelId, dims: model.dims, type: model.index.type }, 'added model vector field');
  }

  /**
   * The current version's layout against INDEX_SHARDS / INDEX_REPLICAS: a warning when they differ (a version keeps
   * the layout it was created with until `lookalike index ensure` sets its replicas or a migration reshards it).
   */
  async checkLayout(index: string): Promise<IndexLayout> {
    const live = await readLayout(this.es, index);
    const { shards, replicas } = this.indexConfig;
    if (live.shards !== shards || live.replicas !== replicas) {
      this.logger.warn(
        { index, live, configured: { shards, replicas } },
        live.shards !== shards
          ? 'the catalog index has another number of shards than INDEX_SHARDS: `lookalike index migrate` builds a version with it'
          : 'the catalog index has another number of replicas than INDEX_REPLICAS: `lookalike index ensure` sets it',
      );
    }
    return live;
  }

  /** Sets INDEX_REPLICAS on the current version when it has another number (shards need a migration). */
  async applyReplicas(): Promise<{ index: string; before: IndexLayout; after: IndexLayout }> {
    const index = await this.requireCurrent();
    const before = await readLayout(this.es, index);
    if (before.replicas !== this.indexConfig.replicas) {
      await setReplicas(this.es, index, this.indexConfig.replicas);
      this.logger.info({ index, from: before.replicas, to: this.indexConfig.replicas }, 'set the catalog index replicas');
    }
    return { index, before, after: { ...before, replicas: this.indexConfig.replicas } };
  }

  async createIndex(index: string, models: VectorFieldSpec[], options: { alias?: boolean; refreshInterval?: string; replicas?: number } = {}): Promise<void> {
    const body = buildIndexBody(this.indexConfig, models);
    if (options.refreshInterval) (body.settings.index as Record<string, unknown>).refresh_interval = options.refreshInterval;
    if (options.replicas !== undefined) (body.settings.index as Record<string, unknown>).number_of_replicas = options.replicas;
    await this.es.indices.create({
      index,
      settings: body.settings,
      mappings: body.mappings,
      ...(options.alias ? { aliases: { [this.alias]: { is_write_index: true } } } : {}),
    });
  }

  /**
   * Ends a bulk load into `index` (one created with BULK_LOAD_SETTINGS): the configured refresh interval and replicas
   * (INDEX_REFRESH_INTERVAL, INDEX_REPLICAS), a refresh, and a wait for the replicas (see waitForReplicas).
   */
  async endBulkLoad(index: string): Promise<void> {
    await this.es.indices.putSettings({ index, settings: { index: { refresh_interval: this.indexConfig.refreshInterval, number_of_replicas: this.indexConfig.replicas } } });
    await this.es.indices.refresh({ index });
    await waitForReplicas(this.es, index, this.indexConfig.replicas, this.logger);
  }

  async migrate(options: MigrationOptions): Promise<MigrationResult> {
    const from = await this.requireCurrent();
    const latest = (await this.versions())[0] ?? 0;
    const to = this.versionName(latest + 1);
    const batchSize = options.batchSize ?? 500;
    // Documents of the one-photo layout become one-photo products of the photos layout on the way, vectors and all.
    const transform: DocumentTransform = async (documents) => {
      const upgraded = documents.map(({ id, source }) => ({ id, source: upgradeDocument(source) }));
      return options.transform ? options.transform(upgraded) : upgraded.map((document) => document.source);
    };
    // No refreshes and no replicas while bulk-loading the new version; both come back before the swap.
    await this.createIndex(to, options.models, BULK_LOAD_SETTINGS);
    this.logger.info({ from, to }, 'migration: copying documents');
    const startedAt = Date.now();
    try {
      const total = (await this.es.count({ index: from })).count;
      let copied = 0;
      await this.scan(from, undefined, batchSize, async (hits) => {
        copied += await copyDocuments(this.es, hits, to, transform, false);
        options.onProgress?.(copied, total);
      });
      // Searches move to the new version only once it has as many copies of each shard as configured.
      await this.endBulkLoad(to);
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
        caughtUp += await copyDocuments(this.es, hits, to, transform, true);
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

  /** Every document of `index` matching `query`, in batches (see scanIndex). */
  scan(index: string, query: Record<string, unknown> | undefined, size: number, onBatch: (hits: ScanHit[]) => Promise<void>, source?: string[]): Promise<void> {
    return scanIndex(this.es, index, query, size, onBatch, source);
  }
}
