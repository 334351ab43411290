/**
 * The demo stack, reusable: a catalog of real images (Debian's openclipart-png drawings rendered as product photos,
 * with brands, prices, sizes, colours and availability), served from 127.0.0.1, the API and the indexer from dist/,
 * and the catalog indexed through the real signed-webhook → queue → indexer path. `npm run demo` runs one with its
 * defaults (scripts/demo.ts); `npm run bench:load` runs its own beside it (its own alias, queue prefix and ports).
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { loadConfig } from '../core/config';
import { resolveManifests, vectorFieldSpecs } from '../core/embedding/manifest';
import { createLogger } from '../core/logger';
import { createElasticsearchClient } from '../core/search/elasticsearch';
import { IndexManager } from '../core/search/index-manager';
import { embeddedByQuery } from '../core/search/photos';
import { createProgress } from '../core/progress';
import { seededRandom } from '../core/random';
import { signatureHeader } from '../core/webhook-signature';
import { renderProduct, renderScene, selectClipart, type ClipartItem } from '../benchmarks/lib/clipart';
import { withJpegComment } from '../benchmarks/lib/jpeg-comment';
import { spawnService } from './service-command';

const root = path.resolve(__dirname, '..');
export const DEMO_DIR = path.join(root, '.cache', 'demo');
export const DEMO_IMAGES_DIR = path.join(DEMO_DIR, 'images');

const BRANDS = ['Northwind', 'Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Vandelay', 'Stark'];
const COLOURS: Array<[string, [number, number, number]]> = [
  ['black', [30, 30, 30]], ['white', [235, 235, 235]], ['grey', [128, 128, 128]], ['red', [200, 40, 40]], ['orange', [235, 140, 40]],
  ['yellow', [230, 210, 60]], ['green', [60, 150, 70]], ['blue', [50, 90, 200]], ['purple', [130, 70, 160]], ['brown', [120, 80, 50]], ['pink', [235, 150, 180]],
];
const PRICE: Record<string, [number, number]> = { transportation: [80, 900], electronics: [20, 600], computer: [30, 1200], tools: [5, 150], food: [1, 25], plants: [5, 60], recreation: [5, 120], office: [2, 80], people: [10, 90], animals: [8, 70], buildings: [50, 500], containers: [3, 40], education: [4, 60], science: [10, 300] };

/** The example photo's products: the first catalog drawing of each of these categories (seeded, so always the same). */
const EXAMPLE_CATEGORIES = ['containers', 'electronics', 'plants'];

/** The drawings of the demo catalog (seeded: the same for a size every time; a smaller size is a prefix per category). */
export const selectDemoClipart = (perCategory: number): Promise<ClipartItem[]> => selectClipart({ perCategory, seed: 1, maxPixels: 8_000_000 });

export type DemoProduct = Record<string, unknown> & { id: string; images: string[] };

/** The name of a product's second photo on the image server (`/<name>.jpg`). */
export const secondPhotoName = (id: string): string => `${id}--photo2`;

/**
 * A product's second photo, made from its first as a shop's other shot of the same item would differ: mirrored, a
 * closer crop (the middle 84 %), on a beige background instead of white. A search with one finds the product through
 * the other (each is embedded and searched on its own).
 */
export async function secondPhoto(photo: Buffer): Promise<Buffer> {
  const { width = 640, height = 640 } = await sharp(photo).metadata();
  const [w, h] = [Math.round(width * 0.84), Math.round(height * 0.84)];
  const closer = await sharp(photo).flop().extract({ left: Math.round((width - w) / 2), top: Math.round((height - h) / 2), width: w, height: h }).resize(width, height).toBuffer();
  // Multiplied onto the background: white turns beige, the drawing keeps its colours.
  return sharp({ create: { width, height, channels: 3, background: { r: 236, g: 228, b: 212 } } }).composite([{ input: closer, blend: 'multiply' }]).jpeg({ quality: 88 }).toBuffer();
}

/** Writes the second photo of product `id` beside its first (.cache/demo/images), unless it is there already. */
async function ensureSecondPhoto(id: string): Promise<void> {
  const file = path.join(DEMO_IMAGES_DIR, `${secondPhotoName(id)}.jpg`);
  if (!fs.existsSync(file)) fs.writeFileSync(file, await secondPhoto(fs.readFileSync(path.join(DEMO_IMAGES_DIR, `${id}.jpg`))));
}

export interface DemoStackOptions {
  /** Drawings per category (DEMO_PER_CATEGORY; 200 gives about 1,700 products). */
  perCategory: number;
  /** The catalog's index alias (INDEX_ALIAS). */
  alias: string;
  /** Redis keys and queues (QUEUE_PREFIX). */
  queuePrefix: string;
  apiPort: number;
  /** The catalog's image server (its "CDN"), on 127.0.0.1. */
  imagePort: number;
  /** The indexer's /healthz and /metrics; unset: the indexer's default (9464). */
  indexerPort?: number;
  /** More environment for the API and the indexer (e.g. RATE_LIMIT_PER_S). */
  env?: Record<string, string>;
  /** Where the processes' output goes. Default: inherited. */
  stdio?: 'inherit' | 'ignore';
}

export interface DemoStack {
  api: string;
  alias: string;
  queuePrefix: string;
  /** The webhook secret the API accepts (kept in .cache/demo/webhook-secret). */
  secret: string;
  catalog: DemoProduct[];
  pids: { api: number; indexer: number };
  /** The example photo of several catalog products, when the catalog has them. */
  exampleFile: string | null;
  /** Pushes the catalog through the signed webhook and waits until every product is searchable; returns the count. */
  indexCatalog(): Promise<number>;
  /** Resolves with a line saying which process exited with which code, if one exits on its own with a failure. */
  exited: Promise<string>;
  /** Stops the API and the indexer (SIGTERM, then SIGKILL after `graceMs`, default 10 s) and the image server. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** The colour name nearest to the photo's dominant colour. */
async function colourOf(photo: Buffer): Promise<string> {
  const { dominant } = await sharp(photo).stats();
  let best = COLOURS[0]!;
  let bestDistance = Infinity;
  for (const entry of COLOURS) {
    const [r, g, b] = entry[1];
    const d = (r - dominant.r) ** 2 + (g - dominant.g) ** 2 + (b - dominant.b) ** 2;
    if (d < bestDistance) [best, bestDistance] = [entry, d];
  }
  return best[0];
}

/**
 * The catalog of `perCategory` drawings per category: photos rendered once into .cache/demo/images, attributes
 * derived deterministically, cached in .cache/demo/catalog-<perCategory>.json; also the example photo.
 * Image URLs point at `imagePort`, whatever port the cached catalog was written with.
 */
export async function prepareDemoCatalog(perCategory: number, imagePort: number): Promise<{ catalog: DemoProduct[]; exampleFile: string | null }> {
  fs.mkdirSync(DEMO_IMAGES_DIR, { recursive: true });
  const imageUrl = (id: string) => `http://127.0.0.1:${imagePort}/${encodeURIComponent(id)}.jpg`;
  const catalogFile = path.join(DEMO_DIR, `catalog-${perCategory}.json`);
  let catalog: DemoProduct[];
  let items: ClipartItem[] | null = null;
  // Two photos per product: the drawing, and a second shot of it (secondPhoto).
  const imagesOf = (id: string) => [imageUrl(id), imageUrl(secondPhotoName(id))];
  if (fs.existsSync(catalogFile)) {
    // A catalog cached before products had several photos has `image_url`: its products get both photos as well.
    catalog = (JSON.parse(fs.readFileSync(catalogFile, 'utf8')) as Array<DemoProduct & { image_url?: string }>).map(({ image_url: _imageUrl, ...product }) => ({ ...product, images: imagesOf(product.id) }));
    const progress = createProgress('demo catalog: second photos');
    for (const [i, product] of catalog.entries()) {
      await ensureSecondPhoto(product.id);
      progress.update(i + 1, catalog.length);
    }
    progress.done();
  }
  else {
    items = await selectDemoClipart(perCategory);
    const random = seededRandom(2);
    const progress = createProgress('demo catalog: product photos');
    catalog = [];
    for (const item of items) {
      const file = path.join(DEMO_IMAGES_DIR, `${item.id}.jpg`);
      const photo = fs.existsSync(file) ? fs.readFileSync(file) : await renderProduct(item.file, 640);
      if (!fs.existsSync(file)) fs.writeFileSync(file, photo);
      await ensureSecondPhoto(item.id);
      const [low, high] = PRICE[item.category] ?? [5, 100];
      const wearable = item.subcategory === 'clothing' || item.category === 'people';
      catalog.push({
        id: item.id,
        title: path.basename(item.file, '.png').replace(/[_-]+/g, ' ').replace(/\s+\d+$/, '').trim(),
        brand: BRANDS[Math.floor(random() * BRANDS.length)]!,
        category: item.subcategory === item.category ? item.category : `${item.category}/${item.subcategory}`,
        color: await colourOf(photo),
        ...(wearable ? { sizes: ['XS', 'S', 'M', 'L', 'XL'].filter(() => random() < 0.6) } : {}),
        price: Math.round((low + random() * (high - low)) * 100) / 100,
        currency: 'EUR',
        available: random() < 0.8,
        images: imagesOf(item.id),
      });
      progress.update(catalog.length, items.length);
    }
    progress.done();
    fs.writeFileSync(catalogFile, JSON.stringify(catalog));
  }
  // Built from the drawings themselves (their transparency), so a catalog from before the example selects them again.
  const exampleFile = path.join(DEMO_DIR, 'examples', `several-products-${perCategory}.jpg`);
  if (!fs.existsSync(exampleFile)) {
    const ids = new Set(catalog.map((product) => product.id));
    const drawings = items ?? (await selectDemoClipart(perCategory));
    const picks = EXAMPLE_CATEGORIES.flatMap((category) => drawings.find((item) => item.category === category && ids.has(item.id)) ?? []);
    if (picks.length >= 2) {
      const { jpeg } = await renderScene(picks.map((item) => item.file), { width: 960, height: 640, seed: 3 });
      fs.mkdirSync(path.dirname(exampleFile), { recursive: true });
      fs.writeFileSync(exampleFile, jpeg);
    }
  }
  return { catalog, exampleFile: fs.existsSync(exampleFile) ? exampleFile : null };
}

/**
 * The catalog's image server: `/<id>.jpg` from `dir` (.cache/demo/images). `/<id>.jpg?v=<tag>` answers the same
 * picture with a JPEG comment carrying the tag: distinct bytes, so a product created with it is embedded as a new
 * image (the load test's new products) instead of reusing the vectors of a known one.
 */
export function createImageServer(dir = DEMO_IMAGES_DIR): http.Server {
  return http.createServer((request, response) => {
    let name: string;
    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://127.0.0.1');
      name = decodeURIComponent(url.pathname.slice(1));
    } catch {
      return void response.writeHead(400).end();
    }
    const file = path.join(dir, name);
    if (!/^[A-Za-z0-9_-]+\.jpg$/.test(name) || !fs.existsSync(file)) return void response.writeHead(404).end();
    const variant = url.searchParams.get('v');
    if (variant !== null) {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(variant)) return void response.writeHead(400).end();
      return void response.writeHead(200, { 'content-type': 'image/jpeg' }).end(withJpegComment(fs.readFileSync(file), `lookalike-variant-${variant}`));
    }
    response.writeHead(200, { 'content-type': 'image/jpeg', 'cache-control': 'max-age=86400' });
    fs.createReadStream(file).pipe(response);
  });
}

/** Waits until `url` answers 2xx, or throws after `attempts` × 500 ms or as soon as `failed()` says so. */
async function waitFor(url: string, what: string, failed: () => string | null, attempts = 240): Promise<void> {
  for (let i = 0; !(await fetch(url).then((r) => r.ok, () => false)); i++) {
    const failure = failed();
    if (failure) throw new Error(failure);
    if (i > attempts) throw new Error(`${what} did not become ready`);
    await sleep(500);
  }
}

/**
 * A demo index left by an older release (one photo per product) is migrated before the processes start, as
 * `lookalike index migrate` does (nothing is embedded again): they refuse that layout, and the demo's catalog is
 * the demo's own to upgrade.
 */
async function upgradeOnePhotoIndex(env: NodeJS.ProcessEnv): Promise<void> {
  const config = loadConfig({ ...env, LOG_LEVEL: 'warn' });
  const es = createElasticsearchClient(config.elasticsearch);
  try {
    const manager = new IndexManager(es, config.index, createLogger(config));
    const current = await manager.currentIndex();
    if (!current) return;
    const models = vectorFieldSpecs(config, resolveManifests(config.models.ids, config.models.dir));
    if (!(await manager.checkMapping(current, models)).onePhotoLayout) return;
    const progress = createProgress(`demo index ${current}: one photo per product → several (migration)`);
    await manager.migrate({ models, deleteOld: true, onProgress: (done, total) => progress.update(done, total) });
    progress.done();
  } finally {
    await es.close();
  }
}

/**
 * Starts the stack: the catalog (rendered on first use), its image server, the API and the indexer, and waits for
 * the API to be ready. The catalog is indexed by `indexCatalog()`. On failure everything started is stopped again.
 */
export async function startDemoStack(options: DemoStackOptions): Promise<DemoStack> {
  fs.mkdirSync(DEMO_DIR, { recursive: true });
  const secretFile = path.join(DEMO_DIR, 'webhook-secret');
  if (!fs.existsSync(secretFile)) fs.writeFileSync(secretFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  const secret = fs.readFileSync(secretFile, 'utf8').trim();
  const { catalog, exampleFile } = await prepareDemoCatalog(options.perCategory, options.imagePort);

  const images = createImageServer();
  await new Promise<void>((resolve, reject) => {
    images.once('error', reject);
    images.listen(options.imagePort, '127.0.0.1', resolve);
  });

  const env = {
    ...process.env,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    INDEX_ALIAS: options.alias,
    QUEUE_PREFIX: options.queuePrefix,
    WEBHOOK_SECRETS: secret,
    FETCH_ALLOWED_HOSTS: '127.0.0.1',
    API_PORT: String(options.apiPort),
    API_HOST: '127.0.0.1',
    ...(options.indexerPort !== undefined ? { INDEXER_PORT: String(options.indexerPort) } : {}),
    ...options.env,
  };
  await upgradeOnePhotoIndex(env);
  const stdio: ['ignore', 'inherit' | 'ignore', 'inherit' | 'ignore'] = ['ignore', options.stdio ?? 'inherit', options.stdio ?? 'inherit'];
  // Started as `npm run indexer` and `npm run api` start them.
  const indexer = spawnService('indexer', env, stdio);
  const api = spawnService('api', env, stdio);
  const children: ChildProcess[] = [indexer, api];
  let stopping: Promise<void> | null = null;
  let failure: string | null = null;
  let reportExit: (line: string) => void = () => undefined;
  const exited = new Promise<string>((resolve) => (reportExit = resolve));
  for (const child of children) {
    child.on('exit', (code) => {
      if (stopping || !code) return;
      failure = `a demo process exited with ${code}`;
      reportExit(failure);
    });
  }
  const exitOf = (child: ChildProcess) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve())));
  const stop = (graceMs = 10_000): Promise<void> => {
    stopping ??= (async () => {
      for (const child of children) child.kill('SIGTERM');
      images.close();
      images.closeAllConnections();
      const all = Promise.all(children.map(exitOf));
      const deadline = sleep(graceMs).then(() => 'late' as const);
      if ((await Promise.race([all, deadline])) === 'late') for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await all;
    })();
    return stopping;
  };
  const apiUrl = `http://127.0.0.1:${options.apiPort}`;
  try {
    await waitFor(`${apiUrl}/readyz`, 'the API', () => failure);
  } catch (error) {
    await stop();
    throw error;
  }

  const indexCatalog = async (): Promise<number> => {
    // Event ids name the index they were sent for (its uuid): a second run against the same index is all duplicates
    // and embeds nothing, while an index that was lost (Elasticsearch data removed, Redis kept) gets its events
    // again instead of having them dropped as already seen.
    const es = createElasticsearchClient(loadConfig(process.env).elasticsearch);
    try {
      const indexUuid = Object.values(await es.indices.getSettings({ index: options.alias }))[0]!.settings!.index!.uuid!;
      let accepted = 0;
      for (let i = 0; i < catalog.length; i += 250) {
        const events = catalog.slice(i, i + 250).map((product) => ({ id: `demo-${indexUuid}-${product.id}-1`, type: 'product.upsert', version: 1, product }));
        const body = JSON.stringify({ events });
        const response = await fetch(`${apiUrl}/v1/webhooks/catalog`, { method: 'POST', headers: { 'content-type': 'application/json', 'lookalike-signature': signatureHeader([secret], body) }, body });
        if (response.status !== 202) throw new Error(`the webhook answered ${response.status}: ${await response.text()}`);
        accepted += ((await response.json()) as { accepted: number }).accepted;
      }
      // Accepted events whose version the index already holds are recognised by the indexer and cost no embedding.
      const progress = createProgress(`indexing (${accepted} events accepted)`);
      for (;;) {
        if (failure) throw new Error(failure);
        await es.indices.refresh({ index: options.alias });
        const done = (await es.count({ index: options.alias, query: embeddedByQuery('efficientnet-lite0') })).count;
        progress.update(done, catalog.length);
        if (done >= catalog.length) break;
        await sleep(1000);
      }
      progress.done();
      return catalog.length;
    } finally {
      await es.close();
    }
  };

  return { api: apiUrl, alias: options.alias, queuePrefix: options.queuePrefix, secret, catalog, pids: { api: api.pid!, indexer: indexer.pid! }, exampleFile, indexCatalog, exited, stop };
}
