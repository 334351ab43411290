import { createElasticsearchClient, probePainless } from '../../core/search/elasticsearch';
import { loadConfig } from '../../core/config';
import { seededRandom } from '../../core/random';
import { randomUnitVector } from './helpers';
import { startPipeline } from './pipeline-helpers';
import { embeddedPhoto, photoFields } from '../../core/search/photos';

/**
 * `mode: "exact"` against kNN. On a cluster with painless (the official image: `docker compose up -d elasticsearch`
 * then `ES_URL=http://127.0.0.1:9200 npm test`), exact and kNN must agree on a small catalog. On one without (the
 * test distribution used in CI), exact must answer 501 exact_search_unavailable, never a 500.
 */
jest.setTimeout(120_000);

it('exact cosine script_score agrees with kNN where painless exists, and is a clear 501 where it does not', async () => {
  const config = loadConfig(process.env);
  const probe = createElasticsearchClient(config.elasticsearch);
  const painless = await probePainless(probe);
  await probe.close();
  const p = await startPipeline({}, { startWorker: false, exactSearch: painless });
  try {
    const random = seededRandom(17);
    const dims = { 'efficientnet-lite0': 1280, 'colour-texture': 288 };
    const operations = Array.from({ length: 60 }, (_, i) => [
      { index: { _index: p.config.index.alias, _id: `x-${i}` } },
      {
        id: `x-${i}`, title: `X ${i}`, price: i, available: i % 2 === 0, source_version: 1,
        ...photoFields([
          embeddedPhoto(
            'http://127.0.0.1/x.jpg',
            `h${i}`,
            Object.fromEntries(Object.entries(dims).map(([model, n]) => [model, randomUnitVector(random, n)])),
            Object.keys(dims).map((model) => ({ id: model, version: '1' })),
          ),
        ]),
      },
    ]).flat();
    await p.deps.es.bulk({ operations, refresh: true });
    const query = { vector: randomUnitVector(random, 288), models: { 'colour-texture': 1 }, k: 5, filters: { available: true } };
    const knn = await p.search({ ...query, mode: 'knn' });
    expect(knn.status).toBe(200);
    const exact = await p.search({ ...query, mode: 'exact' });
    if (!painless) {
      expect(exact).toMatchObject({ status: 501, body: { error: { code: 'exact_search_unavailable' } } });
      return;
    }
    expect(exact.status).toBe(200);
    expect(exact.body.results.map((r: { id: string }) => r.id)).toEqual(knn.body.results.map((r: { id: string }) => r.id));
    exact.body.results.forEach((r: { score: number }, i: number) => expect(r.score).toBeCloseTo(knn.body.results[i].score, 2));
    for (const r of exact.body.results) expect(Number(r.id.slice(2)) % 2).toBe(0);
  } finally {
    await p.close();
  }
});
