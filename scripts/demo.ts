/**
 * The demo: a catalog of real images (Debian's openclipart-png drawings rendered as product photos, with brands,
 * prices, sizes, colours and availability), served from 127.0.0.1, indexed through the real signed-webhook → queue →
 * indexer path, then the API (and its page) left running. A second run reuses the photos and the index: the events
 * are duplicates, nothing is embedded again, and it is ready in seconds.
 *
 * DEMO_PER_CATEGORY (default 200), API_PORT (8080), DEMO_IMAGE_PORT (8090). Ctrl-C stops the API and the indexer;
 * `npm run services:down` stops Elasticsearch and Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { loadConfig } from '../core/config';
import { createProgress } from '../core/progress';
import { createElasticsearchClient } from '../core/search/elasticsearch';
import { seededRandom } from '../core/random';
import { signatureHeader } from '../core/webhook-signature';
import { renderProduct, renderScene, selectClipart, type ClipartItem } from '../benchmarks/lib/clipart';

const root = path.resolve(__dirname, '..');
const dir = path.join(root, '.cache', 'demo');
const imagesDir = path.join(dir, 'images');
const perCategory = Number(process.env.DEMO_PER_CATEGORY ?? 200);
const apiPort = Number(process.env.API_PORT ?? 8080);
const imagePort = Number(process.env.DEMO_IMAGE_PORT ?? 8090);
const alias = 'demo-products';

const BRANDS = ['Northwind', 'Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Vandelay', 'Stark'];
const COLOURS: Array<[string, [number, number, number]]> = [
  ['black', [30, 30, 30]], ['white', [235, 235, 235]], ['grey', [128, 128, 128]], ['red', [200, 40, 40]], ['orange', [235, 140, 40]],
  ['yellow', [230, 210, 60]], ['green', [60, 150, 70]], ['blue', [50, 90, 200]], ['purple', [130, 70, 160]], ['brown', [120, 80, 50]], ['pink', [235, 150, 180]],
];
const PRICE: Record<string, [number, number]> = { transportation: [80, 900], electronics: [20, 600], computer: [30, 1200], tools: [5, 150], food: [1, 25], plants: [5, 60], recreation: [5, 120], office: [2, 80], people: [10, 90], animals: [8, 70], buildings: [50, 500], containers: [3, 40], education: [4, 60], science: [10, 300] };

/** The example photo's products: the first catalog drawing of each of these categories (seeded, so always the same). */
const EXAMPLE_CATEGORIES = ['containers', 'electronics', 'plants'];

/** Writes the example query photo: several catalog products side by side on a table-like surface. */
async function writeExample(file: string, items: ClipartItem[], catalogIds: Set<string>): Promise<void> {
  const picks = EXAMPLE_CATEGORIES.flatMap((category) => items.find((item) => item.category === category && catalogIds.has(item.id)) ?? []);
  if (picks.length < 2) return;
  const { jpeg } = await renderScene(picks.map((item) => item.file), { width: 960, height: 640, seed: 3 });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, jpeg);
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

async function main(): Promise<void> {
  fs.mkdirSync(imagesDir, { recursive: true });
  const secretFile = path.join(dir, 'webhook-secret');
  if (!fs.existsSync(secretFile)) fs.writeFileSync(secretFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  const secret = fs.readFileSync(secretFile, 'utf8').trim();

  // 1. The catalog: photos rendered once, attributes derived deterministically.
  const catalogFile = path.join(dir, `catalog-${perCategory}.json`);
  let catalog: Array<Record<string, unknown> & { id: string }>;
  let items: ClipartItem[] | null = null;
  if (fs.existsSync(catalogFile)) catalog = JSON.parse(fs.readFileSync(catalogFile, 'utf8'));
  else {
    items = await selectClipart({ perCategory, seed: 1, maxPixels: 8_000_000 });
    const random = seededRandom(2);
    const progress = createProgress('demo catalog: product photos');
    catalog = [];
    for (const item of items) {
      const file = path.join(imagesDir, `${item.id}.jpg`);
      const photo = fs.existsSync(file) ? fs.readFileSync(file) : await renderProduct(item.file, 640);
      if (!fs.existsSync(file)) fs.writeFileSync(file, photo);
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
        image_url: `http://127.0.0.1:${imagePort}/${encodeURIComponent(item.id)}.jpg`,
      });
      progress.update(catalog.length, items.length);
    }
    progress.done();
    fs.writeFileSync(catalogFile, JSON.stringify(catalog));
  }
  // Built from the drawings themselves (their transparency), so a catalog from before the example selects them again.
  const exampleFile = path.join(dir, 'examples', `several-products-${perCategory}.jpg`);
  if (!fs.existsSync(exampleFile)) await writeExample(exampleFile, items ?? (await selectClipart({ perCategory, seed: 1, maxPixels: 8_000_000 })), new Set(catalog.map((product) => product.id)));

  // 2. The image server (the catalog's CDN, on loopback).
  const images = http.createServer((request, response) => {
    const name = decodeURIComponent((request.url ?? '').slice(1));
    if (!/^[A-Za-z0-9_-]+\.jpg$/.test(name) || !fs.existsSync(path.join(imagesDir, name))) return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'image/jpeg', 'cache-control': 'max-age=86400' });
    fs.createReadStream(path.join(imagesDir, name)).pipe(response);
  });
  await new Promise<void>((resolve) => images.listen(imagePort, '127.0.0.1', resolve));

  // 3. The API and the indexer, as in production.
  const env = { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', INDEX_ALIAS: alias, QUEUE_PREFIX: 'demo', WEBHOOK_SECRETS: secret, FETCH_ALLOWED_HOSTS: '127.0.0.1', API_PORT: String(apiPort), API_HOST: '127.0.0.1' };
  const children: ChildProcess[] = [
    spawn(process.execPath, [path.join(root, 'dist', 'indexer', 'main.js')], { env, stdio: ['ignore', 'inherit', 'inherit'] }),
    spawn(process.execPath, ['--single-threaded-gc', path.join(root, 'dist', 'api', 'main.js')], { env, stdio: ['ignore', 'inherit', 'inherit'] }),
  ];
  const stop = () => {
    for (const child of children) child.kill('SIGTERM');
    images.close();
    setTimeout(() => process.exit(0), 1500);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  for (const child of children) child.on('exit', (code) => code && code !== 0 && (console.error(`a demo process exited with ${code}`), stop()));
  const api = `http://127.0.0.1:${apiPort}`;
  for (let i = 0; !(await fetch(`${api}/readyz`).then((r) => r.ok, () => false)); i++) {
    if (i > 240) throw new Error('the API did not become ready');
    await sleep(500);
  }

  // 4. Index through the signed webhook; wait until searchable. Event ids name the index they were sent for (its
  // uuid): a second run against the same index is all duplicates and embeds nothing, while an index that was lost
  // (Elasticsearch data removed, Redis kept) gets its events again instead of having them dropped as already seen.
  const es = createElasticsearchClient(loadConfig(process.env).elasticsearch);
  const indexUuid = Object.values(await es.indices.getSettings({ index: alias }))[0]!.settings!.index!.uuid!;
  let accepted = 0;
  for (let i = 0; i < catalog.length; i += 250) {
    const events = catalog.slice(i, i + 250).map((product) => ({ id: `demo-${indexUuid}-${product.id}-1`, type: 'product.upsert', version: 1, product }));
    const body = JSON.stringify({ events });
    const response = await fetch(`${api}/v1/webhooks/catalog`, { method: 'POST', headers: { 'content-type': 'application/json', 'lookalike-signature': signatureHeader([secret], body) }, body });
    if (response.status !== 202) throw new Error(`the webhook answered ${response.status}: ${await response.text()}`);
    accepted += ((await response.json()) as { accepted: number }).accepted;
  }
  // Accepted events whose version the index already holds are recognised by the indexer and cost no embedding.
  const progress = createProgress(`indexing (${accepted} events accepted)`);
  for (;;) {
    await es.indices.refresh({ index: alias });
    const done = (await es.count({ index: alias, query: { exists: { field: 'embeddings.efficientnet-lite0' } } })).count;
    progress.update(done, catalog.length);
    if (done >= catalog.length) break;
    await sleep(1000);
  }
  progress.done();
  await es.close();
  const example = fs.existsSync(exampleFile) ? `; several products in one photo: ${exampleFile}` : '';
  process.stdout.write(`\nLookalike is running at ${api}/  (${catalog.length} products; photos to try: ${imagesDir}${example})\nCtrl-C stops the API and the indexer; npm run services:down stops Elasticsearch and Redis.\n`);
}

main().catch((error: unknown) => {
  console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
