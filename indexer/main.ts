import http from 'node:http';
import { loadConfig } from '../core/config';
import { describeError } from '../core/errors';
import { createIndexerMetrics, createRegistry } from '../core/metrics';
import { runMain } from '../core/main';
import { createImageFetcher } from '../core/net/image-fetcher';
import { createNotificationSender } from '../core/notifications/notification-sender';
import { connectRedis, createRedisConnection } from '../core/redis';
import { CatalogStore } from '../core/search/catalog-store';
import { startCore } from '../core/startup';
import { createNotifier } from './notifier';
import { createIndexerWorker } from './worker';

/**
 * `npm run indexer`: the indexing process. Checks Elasticsearch, Redis, the index mapping and the models at start
 * (one line and exit 1 when any is wrong), then works the queues until SIGTERM / SIGINT, when it finishes or hands
 * back the batch in hand within SHUTDOWN_TIMEOUT_MS. GET /healthz (liveness) and /metrics on INDEXER_PORT.
 */
runMain('indexer', async () => {
  const config = loadConfig(process.env);
  const sender = config.notify ? createNotificationSender(config.notify, config.fetch) : undefined;
  // A NOTIFY_URL the outbound rules refuse stops the process before anything starts (StartupError notify_url_blocked).
  const unresolved = await sender?.checkAtStart();
  const { deps, embedder } = await startCore(config, 'worker');
  const log = deps.logger.child({ component: 'indexer' });

  const registry = createRegistry('indexer');
  const metrics = createIndexerMetrics(registry);
  const workerConnection = createRedisConnection(config.redis, 'worker');
  await connectRedis(workerConnection, config.redis);
  const store = new CatalogStore(deps.es, config.index.alias, config.worker.refresh);
  if (unresolved) log.warn({ reason: unresolved.message }, 'NOTIFY_URL does not resolve now; each delivery checks again');
  const notifier = config.notify && sender ? createNotifier({ config, notify: config.notify, logger: deps.logger, connection: workerConnection, sender, metrics }) : undefined;
  const worker = createIndexerWorker({
    config,
    logger: deps.logger,
    connection: workerConnection,
    store,
    embedder,
    fetcher: createImageFetcher(config, 'catalog'),
    status: deps.status,
    metrics,
    ...(notifier ? { notifier } : {}),
  });
  worker.start();

  const sweep = setInterval(() => {
    store.sweepTombstones(config.worker.tombstoneTtlSeconds).then(
      ({ removed, failed, firstFailure }) => {
        metrics.tombstones.inc({ outcome: 'removed' }, removed);
        metrics.tombstones.inc({ outcome: 'failed' }, failed);
        if (failed > 0) log.warn({ removed, failed, firstFailure }, 'tombstone sweep: some expired tombstones could not be removed');
        else if (removed > 0) log.info({ removed }, 'swept expired tombstones');
      },
      (error: unknown) => log.warn({ err: describeError(error) }, 'tombstone sweep failed'),
    );
  }, 10 * 60_000);
  sweep.unref();

  const server = http.createServer((request, response) => {
    if (request.url === '/healthz') {
      const alive = worker.isAlive();
      response.writeHead(alive ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: alive ? 'ok' : 'down' }));
    } else if (request.url === '/metrics') {
      registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
        () => response.writeHead(500).end(),
      );
    } else response.writeHead(404).end();
  });
  if (config.worker.port > 0) server.listen(config.worker.port, config.worker.host);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    clearInterval(sweep);
    await worker.close();
    server.close();
    workerConnection.disconnect();
    await embedder.close();
    await deps.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  log.info({ models: embedder.models.map((m) => `${m.id}@${m.version}:${m.provider}`), alias: config.index.alias }, 'indexer ready');
});
