import { loadConfig } from '../core/config';
import { searchEmbedderOptions } from '../core/embedding/embedder';
import { createCatalogQueue } from '../core/jobs';
import { runMain } from '../core/main';
import { createRegistry } from '../core/metrics';
import { createLocalizer } from '../core/localization/localizer';
import { createImageFetcher } from '../core/net/image-fetcher';
import { createRateLimiter } from '../core/rate-limiter';
import { probePainless } from '../core/search/elasticsearch';
import { startCore } from '../core/startup';
import { createApp } from './app';

/**
 * `npm run api`: the HTTP API. Checks Elasticsearch, Redis, the index mapping and the models at start (one line and
 * exit 1 when any is wrong); stops taking connections on SIGTERM and lets requests in flight finish (exit 0), or cuts
 * those still running at SHUTDOWN_TIMEOUT_MS (a warning, exit 1).
 */
runMain('api', async () => {
  const config = loadConfig(process.env);
  // The int8 copy of the main model ranks localization candidates (LOCALIZE_SCORER); the indexer never loads it.
  const { deps, embedder } = await startCore(config, 'producer', searchEmbedderOptions(config));
  const localizer = await createLocalizer(config, deps.logger);
  const log = deps.logger.child({ component: 'api' });
  const catalogQueue = createCatalogQueue(deps.redis, config);
  // Connection errors while Redis is away: webhooks answer 503 meanwhile, and the connection comes back by itself.
  catalogQueue.on('error', (error) => log.warn({ err: error.message }, 'queue connection error'));
  const app = createApp({
    config,
    logger: deps.logger,
    es: deps.es,
    redis: deps.redis,
    catalogQueue,
    status: deps.status,
    embedder,
    localizer,
    registry: createRegistry('api'),
    fetcher: createImageFetcher(config, 'query'),
    exactSearch: await probePainless(deps.es),
    rateLimiter: createRateLimiter(config, deps.redis),
  });
  const server = app.listen(config.api.port, config.api.host);
  // Slow clients: the whole request and its headers have deadlines; idle keep-alive connections close.
  server.requestTimeout = config.api.requestTimeoutMs;
  server.headersTimeout = config.api.headersTimeoutMs;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  log.info({ url: `http://${config.api.host}:${config.api.port}` }, 'api listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Requests still running at the deadline are cut: said, and the exit status says the stop was not clean.
    const deadline = setTimeout(() => {
      log.warn({ deadlineMs: config.worker.shutdownTimeoutMs }, 'shutdown deadline reached: requests still in flight were cut');
      process.exit(1);
    }, config.worker.shutdownTimeoutMs).unref();
    server.close(() => {
      void Promise.all([catalogQueue.close(), embedder.close(), localizer.close(), deps.close()]).finally(() => {
        clearTimeout(deadline);
        process.exit(0);
      });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
});
