import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { Client } from '@elastic/elasticsearch';
import { productSchema, type Product } from '../../core/catalog';
import { createProgress } from '../../core/progress';
import { PRODUCT_FIELDS } from '../../core/search/catalog-search';
import { embeddedByQuery } from '../../core/search/photos';
import { selectDemoClipart } from '../../scripts/demo-stack';
import { seeded } from './clipart';
import type { Pool } from './load-args';

/**
 * What the k6 scripts read, prepared by the wrapper under .cache/load/ (never committed):
 * - photo pools: the demo catalog's drawings photographed as a phone would, on a light uneven table, 4000×3000 JPEG
 *   at quality 90 (a 12-megapixel phone photo, what API clients send) and the same photo at 640×480 (what the web
 *   page sends after resizing);
 * - products: catalog products exported from Elasticsearch with their efficientnet-lite0 vector (search by id and by
 *   vector, price changes, templates for new products).
 */

/** Bump when the photos' recipe changes: the pools are rebuilt into a new folder. */
const RECIPE = 1;
const POOL_SIZE = 16;
/** The model whose vectors the raw-vector searches send (the one model whose dimension they match). */
export const VECTOR_MODEL = 'efficientnet-lite0';

const SURFACES = [{ r: 214, g: 208, b: 198 }, { r: 196, g: 178, b: 152 }, { r: 222, g: 222, b: 218 }, { r: 186, g: 190, b: 196 }];

interface Raw {
  data: Buffer;
  raw: { width: number; height: number; channels: 3 | 4 };
}

/** Full-size sensor-like grain, made once per pool and laid over every photo (raw pixels: no codec in between). */
async function grainLayer(width: number, height: number): Promise<Raw> {
  const data = await sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 30 } } }).raw().toBuffer();
  return { data, raw: { width, height, channels: 3 } };
}

/**
 * A phone photo of a drawing lying on a table: `grain`'s size, the item at about half the height, a little soft.
 * The table's texture is made at a quarter of the size and scaled up (the same look for a fraction of the work); the
 * full-size grain on top gives the photo a phone's sensor noise, and with it a phone photo's file size.
 */
async function phonePhoto(file: string, random: () => number, grain: Raw): Promise<Buffer> {
  const { width, height } = grain.raw;
  const surface = SURFACES[Math.floor(random() * SURFACES.length)]!;
  const texture = await sharp({ create: { width: width / 4, height: height / 4, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .blur(1.5)
    .linear([0.3, 0.3, 0.3], [surface.r, surface.g, surface.b].map((c) => c - 128 * 0.3))
    .resize(width, height)
    .raw()
    .toBuffer();
  const scale = 0.45 + random() * 0.2;
  const drawing = await sharp(fs.readFileSync(file), { limitInputPixels: false })
    .ensureAlpha()
    .trim({ background: { r: 0, g: 0, b: 0, alpha: 0 } })
    .resize(Math.round(width * scale), Math.round(height * scale), { fit: 'inside' })
    .blur(1.2)
    .raw()
    .toBuffer({ resolveWithObject: true });
  const left = Math.round((width - drawing.info.width) * (0.3 + random() * 0.4));
  const top = Math.round((height - drawing.info.height) * (0.3 + random() * 0.4));
  return sharp(texture, { raw: { width, height, channels: 3 } })
    .composite([
      { input: grain.data, raw: grain.raw, blend: 'soft-light' },
      { input: drawing.data, raw: { width: drawing.info.width, height: drawing.info.height, channels: 4 }, left, top },
    ])
    .jpeg({ quality: 90 })
    .toBuffer();
}

/**
 * Whether the pools under `base` are all there. The manifests hold absolute paths (k6 opens them as they are): a
 * cache made by a checkout elsewhere (its .cache shared or copied) is pointed at `base` again, not rebuilt.
 */
export function reusePools(base: string, manifests: Record<Pool, string>): boolean {
  if (!fs.existsSync(manifests['640']) || !fs.existsSync(manifests['12mp'])) return false;
  for (const manifest of Object.values(manifests)) {
    const listed = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { files: string[] }).files;
    const here = listed.map((file) => path.join(base, path.basename(file)));
    if (here.length === 0 || !here.every((file) => fs.existsSync(file))) return false;
    if (here.some((file, i) => file !== listed[i])) fs.writeFileSync(manifest, JSON.stringify({ files: here }));
  }
  return true;
}

/**
 * The photo pools under `dir` (made once; reused while the recipe is unchanged): manifests `{ files: [paths] }` per
 * pool, as the k6 scripts' loadPhotos reads them.
 */
export async function preparePhotoPools(dir: string): Promise<Record<Pool, string>> {
  const base = path.join(dir, `photos-v${RECIPE}`);
  const manifests = { '640': path.join(base, 'pool-640.json'), '12mp': path.join(base, 'pool-12mp.json') };
  if (reusePools(base, manifests)) return manifests;
  fs.mkdirSync(base, { recursive: true });
  // Two drawings per category: a prefix of every demo catalog's selection, so the pictured items are catalog items.
  const items = (await selectDemoClipart(2)).slice(0, POOL_SIZE);
  const random = seeded(11);
  const grain = await grainLayer(4000, 3000);
  const files: Record<Pool, string[]> = { '640': [], '12mp': [] };
  const progress = createProgress('load test photo pools (12 MP and 640 px)');
  for (const [i, item] of items.entries()) {
    const large = await phonePhoto(item.file, random, grain);
    const small = await sharp(large).resize(640, 480).jpeg({ quality: 85 }).toBuffer();
    const name = `${String(i).padStart(2, '0')}-${item.id}`;
    fs.writeFileSync(path.join(base, `${name}-12mp.jpg`), large);
    fs.writeFileSync(path.join(base, `${name}-640.jpg`), small);
    files['12mp'].push(path.join(base, `${name}-12mp.jpg`));
    files['640'].push(path.join(base, `${name}-640.jpg`));
    progress.update(i + 1, items.length);
  }
  progress.done();
  for (const pool of ['640', '12mp'] as const) fs.writeFileSync(manifests[pool], JSON.stringify({ files: files[pool] }));
  return manifests;
}

/** Average size of a pool's photos, bytes. */
export function poolBytes(manifest: string): number {
  const files = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { files: string[] }).files;
  return files.reduce((sum, file) => sum + fs.statSync(file).size, 0) / Math.max(1, files.length);
}

export interface ExportedProduct {
  id: string;
  product: Product;
  vector: number[];
}

/**
 * Writes `count` catalog products of `alias` (the first by id, live and embedded, none made by a load run) with
 * their vectors to `file`, as the k6 scripts' loadProducts reads them; returns how many.
 */
export async function exportProducts(esUrl: string, alias: string, file: string, count = 200): Promise<number> {
  const es = new Client({ node: esUrl });
  try {
    const response = await es.search<{ photos?: Array<{ vectors?: Record<string, number[]> }> } & Record<string, unknown>>({
      index: alias,
      size: count,
      sort: [{ id: 'asc' }],
      query: { bool: { filter: [embeddedByQuery(VECTOR_MODEL)], must_not: [{ term: { deleted: true } }, { prefix: { id: 'load-' } }] } },
      // The mapping keeps vectors out of _source (exclude_source_vectors): asked for by name.
      _source: { includes: ['id', ...PRODUCT_FIELDS, `photos.vectors.${VECTOR_MODEL}`], exclude_vectors: false } as never,
    });
    const products: ExportedProduct[] = response.hits.hits.flatMap((hit) => {
      const source = hit._source ?? {};
      const vector = source.photos?.[0]?.vectors?.[VECTOR_MODEL];
      if (!vector) return [];
      // What an event's product holds (the index also keeps what the indexer derives, such as image_hash).
      const fields = Object.fromEntries(['id', ...PRODUCT_FIELDS].flatMap((name) => (!(name in productSchema.shape) || name === 'image_url' || source[name] === undefined || source[name] === null ? [] : [[name, source[name]]])));
      return [{ id: hit._id!, product: productSchema.parse(fields), vector }];
    });
    if (products.length === 0) throw new Error(`the index ${alias} has no embedded products to search by id or vector`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(products));
    return products.length;
  } finally {
    await es.close();
  }
}
