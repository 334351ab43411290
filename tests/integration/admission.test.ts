import type { AddressInfo } from 'node:net';
import { createApp } from '../../api/app';
import { createElasticsearchClient } from '../../core/search/elasticsearch';
import { productOnBackground } from '../fixtures/images';
import { startPipeline, type Pipeline } from './pipeline-helpers';

jest.setTimeout(60_000);

/**
 * Refusing fast, end to end. Admission control: one search at a time and none waiting, so a burst of photo searches is partly
 * admitted and partly refused at once with 503 overloaded, Retry-After and a count in the metrics.
 */
describe('admission control', () => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await startPipeline({ SEARCH_CONCURRENCY: '1', SEARCH_QUEUE: '0', SEARCH_QUEUE_WAIT_MS: '1000', RATE_LIMIT_PER_S: '0' }, { startWorker: false });
  });
  afterAll(() => p.close());

  const photoSearch = async (photo: Buffer) => {
    const form = new FormData();
    form.append('image', new Blob([photo], { type: 'image/jpeg' }), 'photo.jpg');
    const started = performance.now();
    const response = await fetch(`${p.apiUrl}/v1/search`, { method: 'POST', body: form });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as any, ms: performance.now() - started };
  };

  it('refuses what it cannot run at once with 503 overloaded and Retry-After, answers the rest, and counts the refusals', async () => {
    const photo = await productOnBackground({ width: 640, height: 480 });
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => photoSearch(photo)));
    const admitted = outcomes.filter((outcome) => outcome.status === 200);
    const refused = outcomes.filter((outcome) => outcome.status === 503);
    expect(admitted.length + refused.length).toBe(10);
    expect(admitted.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const outcome of refused) {
      expect(outcome.body.error.code).toBe('overloaded');
      expect(outcome.retryAfter).toBe('1');
    }
    for (const outcome of admitted) expect(Array.isArray(outcome.body.results)).toBe(true);

    const metrics = await (await fetch(`${p.apiUrl}/metrics`)).text();
    const counted = metrics.match(/^lookalike_search_refused_total\{[^}]*reason="queue_full"[^}]*\} (\d+)$/m);
    expect(Number(counted?.[1])).toBe(refused.length);
    expect(metrics).toMatch(/^lookalike_search_admission\{[^}]*state="limit_running"[^}]*\} 1$/m);

    // The slots are free again once the burst is answered.
    expect((await photoSearch(photo)).status).toBe(200);
  });
});

describe('Elasticsearch away', () => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await startPipeline({ RATE_LIMIT_PER_S: '0' }, { startWorker: false });
  });
  afterAll(() => p.close());

  it('a search answers 503 search_unavailable with Retry-After, not a 500', async () => {
    // The same API, its Elasticsearch client pointed at a port where nothing listens.
    const es = createElasticsearchClient({ ...p.config.elasticsearch, nodes: ['http://127.0.0.1:9'], url: 'http://127.0.0.1:9', maxRetries: 0 });
    const server = createApp({ ...p.appDeps, es }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const vector = Array.from({ length: 288 }, (_, i) => Math.sin(i + 1));
      const answers = [
        await fetch(`${url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ vector, models: { 'colour-texture': 1 } }) }),
        await fetch(`${url}/v1/products/some-product/similar`),
      ];
      for (const response of answers) {
        expect(response.status).toBe(503);
        expect(response.headers.get('retry-after')).toBe('1');
        expect(((await response.json()) as any).error.code).toBe('search_unavailable');
      }
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await es.close();
    }
  });
});
