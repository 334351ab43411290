import { buildIndexBody } from '../../core/search/catalog-mapping';
import { searchCatalogMany } from '../../core/search/catalog-search';
import { searchFailure } from '../../core/search/elasticsearch';
import { startPipeline, type Pipeline } from './pipeline-helpers';

jest.setTimeout(120_000);

/**
 * A catalog whose index has a shard with no copy, as on a cluster that lost the node holding it: Elasticsearch then
 * answers searches from the other shards with `_shards.failed: 1` and a 200, unless asked not to. Made on one node
 * by giving the index two shards and `total_shards_per_node: 1`, so the second is never allocated.
 */
describe('a search over a shard that has no live copy', () => {
  let p: Pipeline;
  let index: string;
  const vector = Array.from({ length: 288 }, (_, i) => Math.cos(i));

  beforeAll(async () => {
    p = await startPipeline({}, { startWorker: false });
    const { es } = p.deps;
    const models = p.embedder.models.map((model) => ({ modelId: model.id, dims: model.dims, index: p.config.vectors.defaults }));
    const body = buildIndexBody({ ...p.config.index, shards: 2, replicas: 0 }, models);
    index = p.deps.indexManager.versionName(2);
    await es.indices.create({ index, settings: { ...body.settings, 'index.routing.allocation.total_shards_per_node': 1 }, mappings: body.mappings as never, wait_for_active_shards: 0 });
    await es.cluster.health({ index, wait_for_active_shards: 1, timeout: '30s' });
    // Products that land on the allocated shard are written; the others cannot be (no primary).
    const operations = Array.from({ length: 20 }, (_, i) => [{ index: { _index: index, _id: `p-${i}` } }, { id: `p-${i}`, title: `p-${i}`, photos: [{ url: `http://127.0.0.1/p-${i}.jpg`, hash: `h-${i}`, embeddings: {}, vectors: { 'colour-texture': vector } }] }]).flat();
    const written = await es.bulk({ operations, refresh: true, timeout: '1s' });
    expect(written.items.some((item) => item.index?.status === 201)).toBe(true);
    const current = await p.deps.indexManager.currentIndex();
    await es.indices.updateAliases({ actions: [{ remove: { index: current!, alias: p.config.index.alias } }, { add: { index, alias: p.config.index.alias, is_write_index: true } }] });
  });

  afterAll(async () => {
    await p?.close();
  });

  it('the shard really is missing: Elasticsearch alone answers 200 from the other shard', async () => {
    const response = await p.deps.es.search({ index, knn: { field: 'photos.vectors.colour-texture', query_vector: vector, k: 5, num_candidates: 20 } });
    expect(response._shards).toMatchObject({ total: 2, failed: 1 });
    expect(response.hits.hits.length).toBeGreaterThan(0);
  });

  it('POST /v1/search answers 503 search_unavailable, never the other shard\'s results', async () => {
    const response = await p.search({ vector, models: { 'colour-texture': 1 }, k: 5 });
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe('search_unavailable');
    expect(response.body.results).toBeUndefined();
  });

  it('GET /v1/catalogs answers 503 search_unavailable, not counts of half the catalog', async () => {
    const response = await p.get('/v1/catalogs');
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe('search_unavailable');
  });

  it('searches sent together (msearch: localization, objects) fail the same way', async () => {
    const options = { vectors: { 'colour-texture': vector }, weights: { 'colour-texture': 1 }, size: 5, filters: [], mode: 'knn' as const, facets: false };
    const error = await searchCatalogMany(p.deps.es, p.config.index.alias, [options, options]).then(() => null, (caught: unknown) => caught);
    expect(error).not.toBeNull();
    expect(searchFailure(error)).toMatchObject({ code: 'search_unavailable', status: 503 });
  });
});
