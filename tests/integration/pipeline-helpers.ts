import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import type { Config, Env } from '../../core/config';
import { createEmbedder, searchEmbedderOptions, type Embedder } from '../../core/embedding/embedder';
import { createLocalizer, type Localizer } from '../../core/localization/localizer';
import { createCatalogQueue, reembedQueueName, type CatalogQueue } from '../../core/jobs';
import { createIndexerMetrics, createRegistry } from '../../core/metrics';
import { createImageFetcher } from '../../core/net/image-fetcher';
import { createRateLimiter } from '../../core/rate-limiter';
import { connectRedis, createRedisConnection, type Redis } from '../../core/redis';
import { CatalogStore } from '../../core/search/catalog-store';
import type { StatusStore } from '../../core/status-store';
import { signatureHeader } from '../../core/webhook-signature';
import { createApp, type ApiDeps } from '../../api/app';
import { createIndexerWorker, type IndexerWorker } from '../../indexer/worker';
import { createNotifier } from '../../indexer/notifier';
import { createNotificationSender } from '../../core/notifications/notification-sender';
import { testConfig, testDeps } from './helpers';
import type { Deps } from '../../core/deps';
import sharp from 'sharp';
import { renderProduct, selectClipart, type ClipartItem } from '../../benchmarks/lib/clipart';

export const SECRET = 'test-secret';

/** Serves generated images on loopback: /img/<n>.jpg is a distinct picture per n; /missing → 404; /corrupt.jpg. */
export async function startImageServer(): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const cache = new Map<string, Buffer>();
  const server = http.createServer(async (request, response) => {
    requests.push(request.url ?? '');
    const match = /^\/img\/(\d+)\.jpg(\?.*)?$/.exec(request.url ?? '');
    if (request.url === '/corrupt.jpg') return void response.writeHead(200, { 'content-type': 'image/jpeg' }).end(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(300, 7)]));
    if (!match) return void response.writeHead(404).end();
    const n = Number(match[1]);
    let body = cache.get(request.url!.split('?')[0]!);
    if (!body) {
      const hue = (n * 47) % 360;
      const colour = { r: Math.round(128 + 120 * Math.cos((hue * Math.PI) / 180)), g: Math.round(128 + 120 * Math.cos(((hue - 120) * Math.PI) / 180)), b: Math.round(128 + 120 * Math.cos(((hue + 120) * Math.PI) / 180)) };
      const shape = await sharp({ create: { width: 60 + (n % 5) * 30, height: 200 - (n % 7) * 20, channels: 3, background: colour } }).png().toBuffer();
      body = await sharp({ create: { width: 320, height: 320, channels: 3, background: '#ffffff' } }).composite([{ input: shape, left: 20 + (n % 11) * 10, top: 40 }]).jpeg().toBuffer();
      cache.set(request.url!.split('?')[0]!, body);
    }
    response.writeHead(200, { 'content-type': 'image/jpeg' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface Pipeline {
  config: Config;
  /** What the in-process API was built from (a test can build a variant with a few parts swapped). */
  appDeps: ApiDeps;
  deps: Deps;
  embedder: Embedder;
  worker: IndexerWorker;
  workerConnection: Redis;
  queue: CatalogQueue;
  apiUrl: string;
  status: StatusStore;
  store: CatalogStore;
  metrics: ReturnType<typeof createIndexerMetrics>;
  registry: ReturnType<typeof createRegistry>;
  post(body: unknown, options?: { secret?: string; timestamp?: number; header?: string }): Promise<{ status: number; body: any }>;
  search(body: unknown): Promise<{ status: number; body: any }>;
  get(path: string): Promise<{ status: number; body: any }>;
  waitFor(check: () => Promise<boolean>, timeoutMs?: number): Promise<void>;
  /** Stops everything; `keepData` leaves the index, queues and keys (another pipeline shares them). */
  close(options?: { keepData?: boolean }): Promise<void>;
}

const sharedEmbedders = new Map<string, Promise<Embedder>>();
/** The configured built-in models (and their int8 copies, as the API loads them: LOCALIZE_SCORER), loaded once per test file. */
export function builtinEmbedder(config: Config): Promise<Embedder> {
  const options = searchEmbedderOptions(config);
  const key = `${config.models.ids.join(',')} ${options.quantized}`;
  if (!sharedEmbedders.has(key)) sharedEmbedders.set(key, createEmbedder(config, testDeps(config).logger, config.models.ids, options));
  return sharedEmbedders.get(key)!;
}

let sharedLocalizer: Promise<Localizer> | undefined;
/** The built-in localizer, loaded once per test file. */
export function builtinLocalizer(config: Config): Promise<Localizer> {
  sharedLocalizer ??= createLocalizer(config, testDeps(config).logger);
  return sharedLocalizer;
}

/** API + indexer in-process against the real services, with this test's own index, queues and keys. */
export async function startPipeline(overrides: Env = {}, options: { startWorker?: boolean; exactSearch?: boolean } = {}): Promise<Pipeline> {
  const config = testConfig({ WEBHOOK_SECRETS: SECRET, FETCH_ALLOWED_HOSTS: '127.0.0.1', BATCH_MAX_WAIT_MS: '20', JOB_BACKOFF_MS: '200', ...overrides });
  const deps = testDeps(config);
  await connectRedis(deps.redis, config.redis);
  const embedder = await builtinEmbedder(config);
  await deps.indexManager.ensure(embedder.models.map((m) => ({ modelId: m.id, dims: m.dims, index: config.vectors.defaults })));
  const registry = createRegistry('test');
  const metrics = createIndexerMetrics(registry);
  const { status } = deps;
  const store = new CatalogStore(deps.es, config.index.alias, config.worker.refresh);
  const queue = createCatalogQueue(deps.redis, config);
  queue.on('error', () => undefined); // the Redis restart test takes Redis away on purpose
  const fetcher = createImageFetcher(config, 'catalog');
  const workerConnection = createRedisConnection(config.redis, 'worker');
  await connectRedis(workerConnection, config.redis);
  // NOTIFY_URL set: notifications as the indexer sends them (indexer/main.ts), through the real transport.
  const notifier = config.notify
    ? createNotifier({ config, notify: config.notify, logger: deps.logger, connection: workerConnection, sender: createNotificationSender(config.notify, config.fetch), metrics })
    : undefined;
  const worker = createIndexerWorker({
    config, logger: deps.logger, connection: workerConnection, store, embedder, status, metrics,
    fetcher, ...(notifier ? { notifier } : {}),
  });
  if (options.startWorker !== false) worker.start();
  const appDeps: ApiDeps = { config, logger: deps.logger, es: deps.es, redis: deps.redis, catalogQueue: queue, status, embedder, localizer: await builtinLocalizer(config), registry, fetcher: createImageFetcher(config, 'query'), exactSearch: options.exactSearch ?? false, rateLimiter: createRateLimiter(config, deps.redis) };
  const app = createApp(appDeps);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const pipeline: Pipeline = {
    config, appDeps, deps, embedder, worker, workerConnection, queue, apiUrl, status, store, metrics, registry,
    async post(body, opts = {}) {
      const raw = typeof body === 'string' ? body : JSON.stringify(body);
      const header = opts.header ?? signatureHeader([opts.secret ?? SECRET], raw, opts.timestamp);
      const response = await fetch(`${apiUrl}/v1/webhooks/catalog`, { method: 'POST', headers: { 'content-type': 'application/json', 'lookalike-signature': header }, body: raw });
      return { status: response.status, body: await response.json() };
    },
    async search(body) {
      const response = await fetch(`${apiUrl}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
      return { status: response.status, body: await response.json().catch(() => null) };
    },
    async get(path) {
      const response = await fetch(`${apiUrl}${path}`);
      return { status: response.status, body: await response.json().catch(() => null) };
    },
    async waitFor(check, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      let lastError: unknown;
      for (;;) {
        try {
          if (await check()) return;
        } catch (error) {
          // A poll that fails on its way (a keep-alive connection reset on a busy machine) is a "not yet".
          lastError = error;
        }
        if (Date.now() > until) throw new Error(`timed out waiting${lastError ? ` (last poll failed: ${String(lastError)})` : ''}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async close(closeOptions = {}) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await worker.close(5_000);
      if (closeOptions.keepData) {
        await queue.close();
        workerConnection.disconnect();
        await deps.close();
        return;
      }
      await queue.obliterate({ force: true }).catch(() => undefined);
      for (const model of embedder.models) {
        const reembed = new Queue(reembedQueueName(model.id), { connection: deps.redis, prefix: config.redis.queuePrefix });
        await reembed.obliterate({ force: true }).catch(() => undefined);
        await reembed.close();
      }
      await queue.close();
      const keys = await deps.redis.keys(`${config.redis.queuePrefix}:*`);
      if (keys.length > 0) await deps.redis.del(...keys);
      workerConnection.disconnect();
      await deps.indexManager.dropAll();
      await deps.close();
    },
  };
  return pipeline;
}

export function upsert(id: string, version: number, image: string, extra: Record<string, unknown> = {}, eventId = `e-${id}-${version}`): Record<string, unknown> {
  return { id: eventId, type: 'product.upsert', version, product: { id, title: `Product ${id}`, brand: 'acme', category: 'toys', sizes: ['M'], price: 10, currency: 'EUR', available: true, image_url: image, ...extra } };
}

/** An upsert of a product with several photos (`images`, the main one first). */
export function upsertPhotos(id: string, version: number, images: string[], extra: Record<string, unknown> = {}, eventId = `e-${id}-${version}`): Record<string, unknown> {
  const event = upsert(id, version, images[0]!, extra, eventId) as { product: Record<string, unknown> };
  const { image_url: _imageUrl, ...product } = event.product;
  return { ...event, product: { ...product, images } };
}

export function remove(id: string, version: number, eventId = `d-${id}-${version}`): Record<string, unknown> {
  return { id: eventId, type: 'product.delete', version, product_id: id };
}

/** Real catalog photos (openclipart drawings rendered at `size` px) served from loopback as `<base>/<id>.jpg`. */
export async function startClipartCatalog(options: { perCategory: number; seed: number; size: number }): Promise<{
  items: ClipartItem[];
  photos: Map<string, Buffer>;
  urlOf(id: string): string;
  close(): void;
}> {
  const items = await selectClipart({ perCategory: options.perCategory, seed: options.seed, maxPixels: 4_000_000 });
  const photos = new Map<string, Buffer>();
  for (const item of items) photos.set(item.id, await renderProduct(item.file, options.size));
  const server = http.createServer((request, response) => {
    const photo = photos.get(decodeURIComponent((request.url ?? '').slice(1).replace(/\.jpg$/, '')));
    if (!photo) return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'image/jpeg' }).end(photo);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    items,
    photos,
    urlOf: (id) => `${base}/${encodeURIComponent(id)}.jpg`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
