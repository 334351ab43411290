import { startPipeline, type Pipeline } from './pipeline-helpers';

jest.setTimeout(120_000);

/** A unit vector: `cos` along axis 0, the rest along `axis`. */
function toward(dims: number, cos: number, axis: number): number[] {
  const vector = new Array<number>(dims).fill(0);
  vector[0] = cos;
  vector[axis] = Math.sqrt(1 - cos * cos);
  return vector;
}

/** A product placed by its cosine to the query's direction (axis 1) and its own axis, in each model's space. */
type Placement = { id: string; semantic: [cos: number, axis: number]; colour: [cos: number, axis: number]; brand?: string };

/** Writes products whose two vectors sit at the given cosines from axis 1 (the query's direction). */
async function writeCatalog(p: Pipeline, products: Placement[]): Promise<void> {
  const dims = (id: string) => p.embedder.models.find((m) => m.id === id)!.dims;
  const operations = products.flatMap(({ id, semantic, colour, brand }) => [
    { index: { _index: p.config.index.alias, _id: id } },
    {
      id, title: id, price: 10, available: true, ...(brand ? { brand } : {}), source_version: 1, deleted: false,
      photos: [{ url: `http://127.0.0.1/${id}.jpg`, embeddings: {}, vectors: { 'efficientnet-lite0': toward(dims('efficientnet-lite0'), ...semantic), 'colour-texture': toward(dims('colour-texture'), ...colour) } }],
    },
  ]);
  const response = await p.deps.es.bulk({ operations, refresh: true });
  expect(response.errors).toBe(false);
}

/**
 * The hybrid score is the weighted sum of every model's similarity, even for a product that one model alone ranks
 * far down: here the colour model ranks the best product 151st (150 colour look-alikes come first), beyond its 100
 * candidates. A single boosted kNN request would give it the semantic share alone (0.6 · 0.995 ≈ 0.60) and rank
 * the look-alikes (0.6 · 0.5 + 0.4 · 0.95 = 0.68) above it; the two-step search gives it its full score.
 */
describe('hybrid search: every candidate gets every model share', () => {
  let p: Pipeline;

  beforeAll(async () => {
    p = await startPipeline({}, { startWorker: false });
    await writeCatalog(p, [
      { id: 'query', semantic: [1, 1], colour: [1, 1] },
      { id: 'best', semantic: [0.99, 1], colour: [0.5, 1] },
      ...Array.from({ length: 150 }, (_, i): Placement => ({ id: `lookalike-${i}`, semantic: [0, 2 + i], colour: [0.9, 2 + i] })),
    ]);
  });

  afterAll(async () => {
    await p.close();
  });

  it('ranks the product with the best weighted sum first, with that sum as its score', async () => {
    const response = await p.search({ product_id: 'query', k: 3 });
    expect(response.status).toBe(200);
    expect(response.body.results[0].id).toBe('best');
    expect(response.body.results[0].score).toBeCloseTo(0.6 * ((1 + 0.99) / 2) + 0.4 * ((1 + 0.5) / 2), 1);
    expect(response.body.results[1].score).toBeCloseTo(0.6 * 0.5 + 0.4 * ((1 + 0.9) / 2), 1);
  });

  it('one model alone is one kNN clause: the colour model alone prefers the look-alikes', async () => {
    const response = await p.search({ product_id: 'query', k: 3, models: { 'colour-texture': 1 } });
    expect(response.status).toBe(200);
    expect(response.body.results.map((r: { id: string }) => r.id)).not.toContain('best');
  });
});

/**
 * Which models propose the candidates (HYBRID_CANDIDATES). A product that the colour model ranks first and the main
 * model ranks past its 100 candidates (150 products are semantically nearer): proposed by the colour model, its
 * weighted sum puts it first (0.6 · 0.6 + 0.4 · 1 = 0.76 against 0.6 · 0.65 + 0.4 · 0.8 = 0.71). By default (`auto`)
 * only the model weighted most proposes candidates for a search without filters, or with filters that pass at least
 * HYBRID_LEAD_SHARE of the catalog (once counted), and the twin is not among them; every model does for a search with
 * filters that pass less, or not counted yet. The query, the twin and 10 others (12 of 152: 8 %) are of brand `rare`.
 */
describe('hybrid search: which models propose the candidates', () => {
  const catalog = (p: Pipeline) =>
    writeCatalog(p, [
      { id: 'query', semantic: [1, 1], colour: [1, 1], brand: 'rare' },
      { id: 'colour-twin', semantic: [0.2, 1], colour: [1, 1], brand: 'rare' },
      ...Array.from({ length: 150 }, (_, i): Placement => ({ id: `kin-${i}`, semantic: [0.3, 2 + i], colour: [0.6, 2 + i], ...(i < 10 ? { brand: 'rare' } : {}) })),
    ]);

  it('by default the model weighted most proposes them without filters and with filters most of the catalog passes (once counted; the colour twin is not found), every model with filters few pass', async () => {
    const p = await startPipeline({}, { startWorker: false });
    try {
      await catalog(p);
      const response = await p.search({ product_id: 'query', k: 10 });
      expect(response.status).toBe(200);
      expect(response.body.results).toHaveLength(10);
      expect(response.body.results.map((r: { id: string }) => r.id)).not.toContain('colour-twin');
      const ways = async () => Object.fromEntries(((await p.registry.getSingleMetric('lookalike_search_hybrid_candidates_total')?.get())?.values ?? []).map((v) => [String(v.labels.way), v.value])) as Record<string, number | undefined>;
      const ids = (response: { body: { results: Array<{ id: string }> } }) => response.body.results.map((r) => r.id);
      // A filter every product passes, not counted yet: every model proposes candidates (the share is counted meanwhile).
      const filtered = await p.search({ product_id: 'query', k: 10, filters: { available: true } });
      expect(filtered.status).toBe(200);
      expect(filtered.body.results[0].id).toBe('colour-twin');
      // Once counted (all of the catalog passes), the model weighted most alone, as without filters.
      await p.waitFor(async () => !ids(await p.search({ product_id: 'query', k: 10, filters: { available: true } })).includes('colour-twin'), 10_000);
      // A filter that 8 % pass stays with every model, counted or not.
      const before = await ways();
      for (let n = 0; n < 3; n++) expect(ids(await p.search({ product_id: 'query', k: 10, filters: { brand: ['rare'] } }))[0]).toBe('colour-twin');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(ids(await p.search({ product_id: 'query', k: 10, filters: { brand: ['rare'] } }))[0]).toBe('colour-twin');
      const after = await ways();
      expect((after.all ?? 0) - (before.all ?? 0)).toBe(4);
      expect(after.lead ?? 0).toBe(before.lead ?? 0);
      expect(before.lead ?? 0).toBeGreaterThan(0);
      const lead = await startPipeline({ HYBRID_CANDIDATES: 'lead', INDEX_ALIAS: p.config.index.alias }, { startWorker: false });
      try {
        const leadFiltered = await lead.search({ product_id: 'query', k: 10, filters: { available: true } });
        expect(leadFiltered.status).toBe(200);
        expect(leadFiltered.body.results.map((r: { id: string }) => r.id)).not.toContain('colour-twin');
      } finally {
        await lead.close({ keepData: true });
      }
    } finally {
      await p.close();
    }
  });

  it('HYBRID_CANDIDATES=all: every model proposes them, and the colour twin comes first with its full score', async () => {
    const p = await startPipeline({ HYBRID_CANDIDATES: 'all' }, { startWorker: false });
    try {
      await catalog(p);
      const response = await p.search({ product_id: 'query', k: 10 });
      expect(response.status).toBe(200);
      expect(response.body.results[0].id).toBe('colour-twin');
      expect(response.body.results[0].score).toBeCloseTo(0.6 * ((1 + 0.2) / 2) + 0.4 * 1, 1);
    } finally {
      await p.close();
    }
  });
});
