import { Router } from 'express';
import type { Client } from '@elastic/elasticsearch';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Embedder } from '../../core/embedding/embedder';
import { checkRedis } from '../../core/redis';
import { checkElasticsearch } from '../../core/search/elasticsearch';

/** /healthz: the process is up. /readyz: Elasticsearch, Redis and the models are usable (503 naming what is not). */
export function healthRouter(deps: { es: Client; esUrl: string; redis: Redis; embedder: Embedder | null; registry: Registry }): Router {
  const router = Router();
  router.get('/healthz', (_request, response) => {
    response.json({ status: 'ok' });
  });
  router.get('/readyz', async (_request, response) => {
    const checks: Record<string, string> = {};
    await Promise.all([
      checkElasticsearch(deps.es, deps.esUrl, 2_000).then((h) => (checks.elasticsearch = h.status), (e: Error) => (checks.elasticsearch = `down: ${e.message}`)),
      checkRedis(deps.redis, 1_000).then(() => (checks.redis = 'ok'), (e: Error) => (checks.redis = `down: ${e.message}`)),
    ]);
    checks.models = deps.embedder ? deps.embedder.models.map((m) => `${m.id}@${m.version}`).join(',') : 'down: no models loaded';
    const ready = checks.elasticsearch !== undefined && !checks.elasticsearch.startsWith('down') && checks.redis === 'ok' && !checks.models.startsWith('down');
    response.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });
  router.get('/metrics', async (_request, response) => {
    response.type(deps.registry.contentType).send(await deps.registry.metrics());
  });
  return router;
}
