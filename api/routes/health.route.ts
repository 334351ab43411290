import { Router } from 'express';
import { z } from 'zod';
import type { Client } from '@elastic/elasticsearch';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Embedder } from '../../core/embedding/embedder';
import { checkRedis } from '../../core/redis';
import { checkElasticsearch } from '../../core/search/elasticsearch';

export const healthSchema = z.object({ status: z.literal('ok') });

export const readinessSchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z
    .object({
      elasticsearch: z.string().describe('The cluster health (green, yellow), or `down: <why>`'),
      redis: z.string().describe('`ok`, or `down: <why>`'),
      models: z.string().describe('The loaded models as `<id>@<version>`, comma-separated, or `down: <why>`'),
    })
    .describe('What each dependency looks like; anything `down: …` makes the API not ready'),
});

export type Readiness = z.infer<typeof readinessSchema>;

/** /healthz: the process is up. /readyz: Elasticsearch, Redis and the models are usable (503 naming what is not). */
export function healthRouter(deps: { es: Client; esUrl: string; redis: Redis; embedder: Embedder | null; registry: Registry }): Router {
  const router = Router();
  router.get('/healthz', (_request, response) => {
    const body: z.infer<typeof healthSchema> = { status: 'ok' };
    response.json(body);
  });
  router.get('/readyz', async (_request, response) => {
    const [elasticsearch, redis] = await Promise.all([
      checkElasticsearch(deps.es, deps.esUrl, 2_000).then((h) => h.status, (e: Error) => `down: ${e.message}`),
      checkRedis(deps.redis, 1_000).then(() => 'ok', (e: Error) => `down: ${e.message}`),
    ]);
    const models = deps.embedder ? deps.embedder.models.map((m) => `${m.id}@${m.version}`).join(',') : 'down: no models loaded';
    const ready = !elasticsearch.startsWith('down') && redis === 'ok' && !models.startsWith('down');
    const body: Readiness = { status: ready ? 'ready' : 'not_ready', checks: { elasticsearch, redis, models } };
    response.status(ready ? 200 : 503).json(body);
  });
  router.get('/metrics', async (_request, response) => {
    response.type(deps.registry.contentType).send(await deps.registry.metrics());
  });
  return router;
}
