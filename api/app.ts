import path from 'node:path';
import express, { type Express } from 'express';
import { REPO_ROOT } from '../core/embedding/manifest';
import type { Client } from '@elastic/elasticsearch';
import type { CatalogQueue } from '../core/jobs';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Config } from '../core/config';
import { describeError } from '../core/errors';
import type { Embedder } from '../core/embedding/embedder';
import type { Localizer } from '../core/localization/localizer';
import type { Logger } from '../core/logger';
import type { StatusStore } from '../core/status-store';
import { buildOpenApiDocument } from './openapi';
import { errorHandler, notFound } from './middleware/errors';
import { requestId } from './middleware/request-id';
import { parseApiKeys, requireScope } from './middleware/api-keys';
import { catalogFilterMetric, httpMetrics, hybridCandidatesMetric, observeModelRuns, searchStageMetrics } from './middleware/metrics';
import { createQueueDepthGauge } from '../core/metrics';
import { rateLimit } from './middleware/rate-limit';
import { bodyLimits, limitRequestBody } from './middleware/request-body';
import type { RateLimiter } from '../core/rate-limiter';
import { healthRouter } from './routes/health.route';
import { statusRouter } from './routes/status.route';
import { catalogsRouter } from './routes/catalogs.route';
import { webhookRouter } from './routes/webhook.route';
import { IngestService } from './services/ingest.service';
import { SearchService } from './services/search.service';
import { CatalogScope } from '../core/search/catalog-scope';
import { FILTER_SHARE_TTL_MS, FilterShare } from '../core/search/filter-share';
import { StatusService } from './services/status.service';
import { createAdmission } from './services/admission';
import { searchRouter } from './routes/search.route';
import { QueryStore } from '../core/search/query-store';
import type { ImageFetcher } from '../core/net/image-fetcher';

/** Everything the API needs, built by api/main.ts (or by a test). createApp neither listens nor connects. */
export interface ApiDeps {
  config: Config;
  logger: Logger;
  es: Client;
  /** The producer connection: fails fast while Redis is down. */
  redis: Redis;
  catalogQueue: CatalogQueue;
  status: StatusStore;
  embedder: Embedder | null;
  /** Finds products in photos (`objects`, `crop: "localize"`); null: those answer 503 localization_unavailable. */
  localizer: Localizer | null;
  registry: Registry;
  /** Fetches query images given by URL (SSRF-safe). */
  fetcher: ImageFetcher;
  /** Whether `mode: "exact"` can run (painless present; probed once at start). */
  exactSearch: boolean;
  /** The search rate limit, shared by every API process (createRateLimiter); null: no limit. */
  rateLimiter: RateLimiter | null;
}

export function createApp(deps: ApiDeps): Express {
  const { config } = deps;
  const app = express();
  app.disable('x-powered-by');
  // Which X-Forwarded-For hops to believe for `request.ip` (the rate limit's key for requests without an API key).
  app.set('trust proxy', config.api.trustProxy);
  app.use(requestId);
  const metrics = httpMetrics(deps.registry);
  const metricsLog = deps.logger.child({ component: 'metrics' });
  createQueueDepthGauge(
    deps.registry,
    async () => {
      const counts = await deps.catalogQueue.getJobCounts('waiting', 'active', 'delayed', 'failed');
      return Object.entries(counts).map(([state, count]) => ({ queue: deps.catalogQueue.name, state, count }));
    },
    (error) => metricsLog.warn({ err: describeError(error) }, 'queue depth unavailable: Redis did not answer'),
  );
  app.use(metrics.middleware);
  const { refusedDrain } = bodyLimits(config);
  app.use(limitRequestBody(refusedDrain));
  const keys = parseApiKeys(config.api.keys);
  const limit = rateLimit(deps.rateLimiter, config.api.rateLimitPerSecond);
  app.use('/v1/webhooks', requireScope(keys, 'webhook'));
  app.use('/v1/products/:id/status', requireScope(keys, 'webhook'));
  app.use('/v1/search', requireScope(keys, 'search'), limit);
  app.use('/v1/catalogs', requireScope(keys, 'search'));
  app.use('/v1/products/:id/similar', requireScope(keys, 'search'), limit);
  app.use('/metrics', requireScope(keys, 'admin'));
  const ingest = new IngestService(deps.redis, deps.catalogQueue, deps.status, config.redis.queuePrefix, config.webhook.dedupTtlSeconds, config.redis.waitReplicas);
  const openapi = buildOpenApiDocument();
  app.get('/openapi.json', (_request, response) => {
    response.json(openapi);
  });
  app.use(healthRouter({ es: deps.es, esUrl: config.elasticsearch.url, redis: deps.redis, embedder: deps.embedder, registry: deps.registry }));
  app.use(webhookRouter(config, ingest));
  app.use(statusRouter(new StatusService(deps.es, config.index.alias, deps.status)));
  app.use(catalogsRouter(deps.es, config.index.alias));
  if (deps.embedder) {
    const logger = deps.logger.child({ component: 'search' });
    const scope = new CatalogScope(deps.es, config.index.alias, config.search.catalogScopeTtlSeconds * 1000, logger, catalogFilterMetric(deps.registry));
    const search = new SearchService(deps.es, config.index.alias, deps.embedder, deps.fetcher, config.search.weights, deps.exactSearch, deps.localizer, config.image.queryCrop, config.search.rerankByDefault, { setting: config.search.hybridCandidates, leadShare: config.search.hybridLeadShare, shares: new FilterShare(deps.es, config.index.alias, { ttlMs: FILTER_SHARE_TTL_MS }, logger), counter: hybridCandidatesMetric(deps.registry) }, createAdmission(config.api.admission, deps.registry), new QueryStore(deps.redis, config.redis.queuePrefix, config.search.queryTtlSeconds), scope, logger);
    app.use(searchRouter(config, search, searchStageMetrics(deps.registry)));
    observeModelRuns(deps.registry, deps.embedder);
  }
  // The page: static files with a strict policy (no inline script; product images may come from any https host).
  app.get('/docs', (_request, response, next) => {
    response.setHeader('Content-Security-Policy', "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'");
    response.sendFile(path.join(REPO_ROOT, 'api', 'public', 'docs.html'), (error) => error && next(error));
  });
  app.use(
    express.static(path.join(REPO_ROOT, 'api', 'public'), {
      index: 'index.html',
      setHeaders: (response) => {
        response.setHeader('Content-Security-Policy', "default-src 'self'; img-src 'self' data: blob: https: http:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
        response.setHeader('X-Content-Type-Options', 'nosniff');
      },
    }),
  );
  app.use(notFound);
  app.use(errorHandler(deps.logger.child({ component: 'http' }), refusedDrain, (code, status) => metrics.errors.inc({ code, status: String(status) })));
  return app;
}
