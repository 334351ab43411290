import { StartupError } from '../../core/errors';
import type { Deps } from '../../core/deps';
import { buildFilterClauses, knnClause, matchesFilters, type SearchFilters } from '../../core/search/filters';
import { buildIndexBody, vectorField } from '../../core/search/catalog-mapping';
import { readLayout } from '../../core/search/index-layout';
import { IndexManager } from '../../core/search/index-manager';
import { BRANDS, CATEGORIES, COLORS, SIZES, indexProducts, randomProduct, randomUnitVector, seededRandom, testConfig, testDeps, testModel, type TestProduct } from './helpers';

describe('IndexManager against real Elasticsearch', () => {
  let deps: Deps;

  beforeEach(() => {
    deps = testDeps();
  });

  afterEach(async () => {
    await deps.indexManager.dropAll();
    await deps.close();
  });

  it('creates v1 behind the alias, then finds it as it is', async () => {
    const model = testModel();
    expect(await deps.indexManager.ensure([model])).toEqual({ index: `${deps.indexManager.alias}-v1`, created: true, addedModels: [] });
    expect(await deps.indexManager.ensure([model])).toEqual({ index: `${deps.indexManager.alias}-v1`, created: false, addedModels: [] });
    expect(await deps.indexManager.currentIndex()).toBe(`${deps.indexManager.alias}-v1`);
  });

  it('refuses to start when a model outputs other dims than the mapping holds', async () => {
    await deps.indexManager.ensure([testModel('test-model', 16)]);
    const attempt = deps.indexManager.ensure([testModel('test-model', 32)]);
    await expect(attempt).rejects.toBeInstanceOf(StartupError);
    await expect(deps.indexManager.ensure([testModel('test-model', 32)])).rejects.toMatchObject({
      code: 'mapping_mismatch',
      message: expect.stringContaining('has 16 dims but model test-model outputs 32'),
    });
  });

  it('adds a base field of a newer release (catalog) to an index made before it, in place', async () => {
    const model = testModel();
    const alias = deps.indexManager.alias;
    const body = buildIndexBody(deps.config.index, [model]);
    delete (body.mappings.properties as Record<string, unknown>).catalog;
    await deps.es.indices.create({ index: `${alias}-v1`, settings: body.settings, mappings: body.mappings, aliases: { [alias]: { is_write_index: true } } });
    expect(await deps.indexManager.ensure([model])).toEqual({ index: `${alias}-v1`, created: false, addedModels: [] });
    const mapping = await deps.es.indices.getMapping({ index: `${alias}-v1` });
    expect(Object.values(mapping)[0]!.mappings.properties!.catalog).toEqual({ type: 'keyword' });
  });

  it('adds the vector field of a new model in place', async () => {
    await deps.indexManager.ensure([testModel('model-a', 8)]);
    const result = await deps.indexManager.ensure([testModel('model-a', 8), testModel('model-b', 4, 'flat')]);
    expect(result.addedModels).toEqual(['model-b']);
    const mapping = await deps.es.indices.getMapping({ index: result.index });
    const vectors = (Object.values(mapping)[0]!.mappings.properties!.vectors as { properties: Record<string, { dims: number; index_options: { type: string } }> }).properties;
    expect(vectors['model-b']).toMatchObject({ dims: 4, index_options: { type: 'flat' } });
  });

  it('kNN with price-range, size and availability pre-filters: every result respects every filter', async () => {
    const model = testModel();
    await deps.indexManager.ensure([model]);
    const random = seededRandom(42);
    const products = Array.from({ length: 400 }, (_, i) => randomProduct(random, i));
    const vectors = products.map(() => randomUnitVector(random, model.dims));
    await indexProducts(deps, model, products, vectors);
    const byId = new Map(products.map((product) => [product.id, product]));

    for (let round = 0; round < 40; round++) {
      const low = Math.round(random() * 150);
      const filters: SearchFilters = { price: { gte: low, lte: low + 10 + Math.round(random() * 60) } };
      if (random() < 0.7) filters.sizes = SIZES.filter(() => random() < 0.3).slice(0, 3).concat(SIZES[round % SIZES.length]!);
      if (random() < 0.7) filters.available = random() < 0.5;
      if (random() < 0.3) filters.brand = [BRANDS[round % BRANDS.length]!];
      if (random() < 0.3) filters.category = [CATEGORIES[round % CATEGORIES.length]!];
      if (random() < 0.2) filters.color = [COLORS[round % COLORS.length]!];
      const k = 10;
      const response = await deps.es.search<TestProduct>({
        index: deps.indexManager.alias,
        knn: knnClause({ field: vectorField(model.modelId), vector: randomUnitVector(random, model.dims), k, numCandidates: 100, filters: buildFilterClauses(filters) }) as never,
        size: k,
      });
      const expected = products.filter((product) => matchesFilters(product, filters)).length;
      // Pre-filtering: as many results as match, up to k, never fewer because of filtering after the search.
      expect(response.hits.hits).toHaveLength(Math.min(k, expected));
      for (const hit of response.hits.hits) {
        const stored = byId.get(hit._id!)!;
        expect(matchesFilters(hit._source!, filters)).toBe(true);
        expect(hit._source!.price).toBe(stored.price);
      }
    }
  });

  it('migrates to a new version while searches keep answering, and keeps writes made during the copy', async () => {
    const model = testModel();
    await deps.indexManager.ensure([model]);
    const random = seededRandom(7);
    const products = Array.from({ length: 3000 }, (_, i) => randomProduct(random, i));
    const vectors = products.map(() => randomUnitVector(random, model.dims));
    await indexProducts(deps, model, products, vectors);
    const probe = vectors[123]!;

    let searching = true;
    let searches = 0;
    const failures: unknown[] = [];
    const searchLoop = (async () => {
      while (searching) {
        try {
          const response = await deps.es.search<TestProduct>({
            index: deps.indexManager.alias,
            knn: knnClause({ field: vectorField(model.modelId), vector: probe, k: 5, numCandidates: 50, filters: [] }) as never,
            size: 5,
          });
          if (response.hits.hits[0]?._id !== 'p-123' && failures.length < 20) failures.push(`top hit ${response.hits.hits[0]?._id}`);
          searches++;
        } catch (error) {
          if (failures.length < 20) failures.push(error);
        }
      }
    })();

    let wroteDuringCopy = false;
    const migration = deps.indexManager.migrate({
      models: [model],
      batchSize: 250,
      onProgress: (copied) => {
        if (!wroteDuringCopy && copied >= 500) {
          wroteDuringCopy = true;
          // A writer changes a price in the old version while the copy is under way.
          void deps.es.update({ index: `${deps.indexManager.alias}-v1`, id: 'p-2999', doc: { price: 1234.5, indexed_at: new Date().toISOString() }, refresh: true });
        }
      },
    });
    const result = await migration.finally(() => {
      searching = false;
    });
    await searchLoop;

    expect(failures).toEqual([]);
    expect(searches).toBeGreaterThan(0);
    expect(result).toMatchObject({ from: `${deps.indexManager.alias}-v1`, to: `${deps.indexManager.alias}-v2`, copied: 3000 });
    expect(await deps.indexManager.currentIndex()).toBe(`${deps.indexManager.alias}-v2`);
    expect((await deps.es.count({ index: deps.indexManager.alias })).count).toBe(3000);
    const moved = await deps.es.get<TestProduct>({ index: deps.indexManager.alias, id: 'p-2999' });
    expect(moved._source!.price).toBe(1234.5);
    // Vectors were copied too (they are not in _source by default).
    const withVector = await deps.es.get({ index: deps.indexManager.alias, id: 'p-5', _source_exclude_vectors: false } as never) as { _source: { vectors: Record<string, number[]> } };
    expect(withVector._source.vectors[model.modelId]).toHaveLength(model.dims);
  });

  it('sets INDEX_REPLICAS on the live version (replicas change in place; shards take a migration)', async () => {
    await deps.indexManager.ensure([testModel()]);
    const index = `${deps.indexManager.alias}-v1`;
    expect(await readLayout(deps.es, index)).toEqual({ shards: 1, replicas: 0 });
    const replicated = new IndexManager(deps.es, { ...deps.config.index, replicas: 1 }, deps.logger);
    expect(await replicated.applyReplicas()).toEqual({ index, before: { shards: 1, replicas: 0 }, after: { shards: 1, replicas: 1 } });
    expect(await readLayout(deps.es, index)).toEqual({ shards: 1, replicas: 1 });
  });

  it('migrates into a version with INDEX_SHARDS and INDEX_REPLICAS, loaded without replicas, which it gets before the swap', async () => {
    const model = testModel();
    await deps.indexManager.ensure([model]);
    const random = seededRandom(3);
    const products = Array.from({ length: 600 }, (_, i) => randomProduct(random, i));
    await indexProducts(deps, model, products, products.map(() => randomUnitVector(random, model.dims)));
    const next = testDeps(testConfig({ INDEX_ALIAS: deps.indexManager.alias, INDEX_SHARDS: '2', INDEX_REPLICAS: '1' }));
    try {
      const whileCopying: Array<{ shards: number; replicas: number }> = [];
      const started = Date.now();
      await next.indexManager.migrate({
        models: [model],
        batchSize: 200,
        onProgress: () => void readLayout(deps.es, `${deps.indexManager.alias}-v2`).then((layout) => whileCopying.push(layout)),
      });
      // Each document written once while loading, not once per copy.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(whileCopying.length).toBeGreaterThan(0);
      expect(whileCopying.every((layout) => layout.replicas === 0 && layout.shards === 2)).toBe(true);
      expect(await readLayout(deps.es, `${deps.indexManager.alias}-v2`)).toEqual({ shards: 2, replicas: 1 });
      // One node cannot hold a replica: the migration says so and swaps without waiting for green.
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(await deps.indexManager.currentIndex()).toBe(`${deps.indexManager.alias}-v2`);
    } finally {
      await next.close();
    }
  });
});
