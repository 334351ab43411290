/**
 * `npm run bench:photo-layouts`: the two ways Elasticsearch holds several photos per product, compared on the same
 * synthetic catalog (docs/index.md, "Several photos per product"):
 * - nested: one document per product, its photos' vectors in a nested field; kNN returns one hit per product;
 * - per-photo: one document per photo carrying its product's id; kNN over photos, `collapse` on the product id (k
 *   counts photos, so the kNN asks for k × photos per product to return k products).
 *
 * Catalog: `--products` products × `--photos` photos, `--dims`-dimensional unit vectors: each product a random
 * centre, each photo the centre plus noise (cosine ≈ 0.6 to it: the front and the back of one item differ); a query
 * is one photo plus a little noise (a shopper's photo of that view). Measured per layout, with and without a brand
 * pre-filter (1 in 5 products): recall@1 and @10 (the product of the photo among the first products), how often k
 * products came back, latency of the search request (p50, p95) sent one at a time, and the vector field's size on
 * disk per photo (`_disk_usage`, the HNSW graph and int8 vectors: what must sit in the page cache). Writes
 * benchmarks/results/photo-layouts.{json,md}.
 *
 * Flags: --products (20000), --photos (4), --dims (128), --queries (300), --k (10), --noise (1).
 */
import { performance } from 'node:perf_hooks';
import { Client } from '@elastic/elasticsearch';
import { loadConfig } from '../core/config';
import { seededRandom } from '../core/random';
import { createProgress } from '../core/progress';
import { fixed, percentile, writeResult } from './lib/report';

const flag = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? Number(process.argv[at + 1]) : fallback;
};
const PRODUCTS = flag('products', 20_000);
const PHOTOS = flag('photos', 4);
const DIMS = flag('dims', 128);
const QUERIES = flag('queries', 300);
const K = flag('k', 10);
/** How far a query strays from the photo it is of (1: cosine about 0.7 to it). */
const NOISE = flag('noise', 1);
const NUM_CANDIDATES = 100;
const BRANDS = ['a', 'b', 'c', 'd', 'e'];

type Layout = 'nested' | 'per-photo';

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
}
function unit(vector: number[]): number[] {
  const norm = Math.hypot(...vector);
  return vector.map((v) => v / norm);
}
const noisy = (random: () => number, base: number[], amount: number): number[] => unit(base.map((v) => v + amount * gaussian(random) / Math.sqrt(DIMS)));

const vectorMapping = { type: 'dense_vector', dims: DIMS, index: true, similarity: 'cosine', index_options: { type: 'int8_hnsw', m: 16, ef_construction: 100 } };

async function build(es: Client, index: string, layout: Layout, photos: number[][][], brands: string[]): Promise<void> {
  const properties = layout === 'nested'
    ? { brand: { type: 'keyword' }, photos: { type: 'nested', properties: { v: vectorMapping } } }
    : { product: { type: 'keyword' }, brand: { type: 'keyword' }, v: vectorMapping };
  await es.indices.create({ index, settings: { number_of_shards: 1, number_of_replicas: 0, refresh_interval: '-1' }, mappings: { dynamic: 'strict', properties } as never });
  const progress = createProgress(`${layout}: loading`);
  for (let start = 0; start < PRODUCTS; start += 500) {
    const operations: Array<Record<string, unknown>> = [];
    for (let p = start; p < Math.min(PRODUCTS, start + 500); p++) {
      if (layout === 'nested') operations.push({ index: { _index: index, _id: `p${p}` } }, { brand: brands[p], photos: photos[p]!.map((v) => ({ v })) });
      else photos[p]!.forEach((v, i) => operations.push({ index: { _index: index, _id: `p${p}-${i}` } }, { product: `p${p}`, brand: brands[p], v }));
    }
    const response = await es.bulk({ operations }, { requestTimeout: 600_000 });
    if (response.errors) throw new Error(`bulk failed: ${JSON.stringify(response.items.find((item) => Object.values(item)[0]?.error))}`);
    progress.update(Math.min(PRODUCTS, start + 500), PRODUCTS);
  }
  progress.done();
  await es.indices.refresh({ index });
  await es.indices.forcemerge({ index, max_num_segments: 1 }, { requestTimeout: 60 * 60_000 });
  await es.indices.refresh({ index });
}

/** The products a search answers, in order. */
async function search(es: Client, index: string, layout: Layout, vector: number[], brand: string | null): Promise<string[]> {
  const filter = brand ? [{ term: { brand } }] : [];
  if (layout === 'nested') {
    const response = await es.search({ index, size: K, _source: false, knn: { field: 'photos.v', query_vector: vector, k: K, num_candidates: NUM_CANDIDATES, filter } });
    return response.hits.hits.map((hit) => hit._id!);
  }
  // k counts photos: ask for every photo of k products (and candidates to match), collapse to products.
  const k = K * PHOTOS;
  const response = await es.search({ index, size: K, _source: false, fields: ['product'], collapse: { field: 'product' }, knn: { field: 'v', query_vector: vector, k, num_candidates: Math.max(NUM_CANDIDATES, k), filter } });
  return response.hits.hits.map((hit) => String((hit.fields?.product as string[] | undefined)?.[0]));
}

async function vectorBytes(es: Client, index: string, field: string): Promise<number> {
  const usage = (await es.indices.diskUsage({ index, run_expensive_tasks: true })) as unknown as Record<string, { fields: Record<string, { knn_vectors_in_bytes?: number; total_in_bytes?: number }> }>;
  const fields = usage[index]!.fields;
  return fields[field]?.knn_vectors_in_bytes ?? fields[field]?.total_in_bytes ?? NaN;
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const es = new Client({ node: config.elasticsearch.url });
  const random = seededRandom(13);
  const photos = Array.from({ length: PRODUCTS }, () => {
    const centre = unit(Array.from({ length: DIMS }, () => gaussian(random)));
    return Array.from({ length: PHOTOS }, () => noisy(random, centre, 1.3));
  });
  const brands = Array.from({ length: PRODUCTS }, () => BRANDS[Math.floor(random() * BRANDS.length)]!);
  const queries = Array.from({ length: QUERIES }, () => {
    const product = Math.floor(random() * PRODUCTS);
    return { product: `p${product}`, brand: brands[product]!, vector: noisy(random, photos[product]![Math.floor(random() * PHOTOS)]!, NOISE) };
  });
  const stamp = Date.now();
  const rows: Array<Record<string, unknown>> = [];
  for (const layout of ['nested', 'per-photo'] as const) {
    const index = `bench-photo-layouts-${layout}-${stamp}`;
    try {
      const t0 = performance.now();
      await build(es, index, layout, photos, brands);
      const buildS = (performance.now() - t0) / 1000;
      const bytes = await vectorBytes(es, index, layout === 'nested' ? 'photos.v' : 'v');
      for (const filtered of [false, true]) {
        for (const query of queries.slice(0, 20)) await search(es, index, layout, query.vector, filtered ? query.brand : null);
        const times: number[] = [];
        let at1 = 0;
        let at10 = 0;
        let full = 0;
        for (const query of queries) {
          const t = performance.now();
          const found = await search(es, index, layout, query.vector, filtered ? query.brand : null);
          times.push(performance.now() - t);
          if (found[0] === query.product) at1++;
          if (found.includes(query.product)) at10++;
          if (found.length === K) full++;
        }
        rows.push({ layout, filtered, recall_at_1: at1 / QUERIES, recall_at_10: at10 / QUERIES, k_products: full / QUERIES, p50_ms: percentile(times, 50), p95_ms: percentile(times, 95), build_s: buildS, vector_bytes_per_photo: bytes / (PRODUCTS * PHOTOS) });
        process.stderr.write(`${JSON.stringify(rows[rows.length - 1])}\n`);
      }
    } finally {
      await es.indices.delete({ index }, { ignore: [404] });
    }
  }
  await es.close();
  const table = rows
    .map((r) => `| ${r.layout} | ${r.filtered ? 'brand (1 in 5)' : '—'} | ${fixed(r.recall_at_1 as number, 3)} | ${fixed(r.recall_at_10 as number, 3)} | ${fixed(r.k_products as number, 3)} | ${fixed(r.p50_ms as number, 1)} | ${fixed(r.p95_ms as number, 1)} | ${fixed(r.vector_bytes_per_photo as number, 0)} |`)
    .join('\n');
  writeResult('photo-layouts', `npm run bench:photo-layouts -- --products ${PRODUCTS} --photos ${PHOTOS} --dims ${DIMS} --queries ${QUERIES} --noise ${NOISE}`, { products: PRODUCTS, photos: PHOTOS, dims: DIMS, queries: QUERIES, noise: NOISE, k: K, num_candidates: NUM_CANDIDATES, rows }, `# Several photos per product: nested vectors against one document per photo

${PRODUCTS} products × ${PHOTOS} photos, synthetic ${DIMS}-d unit vectors (int8_hnsw, m 16, ef_construction 100, one
shard, force-merged to one segment), ${QUERIES} queries (a photo plus noise ${NOISE}), k = ${K}, num_candidates ${NUM_CANDIDATES} (per-photo:
k and num_candidates × ${PHOTOS}, collapsed by product). Latency: the Elasticsearch request, one at a time, on a shared
machine (noisy: compare the rows with each other). Bytes per photo: the vector field on disk (\`_disk_usage\`).

| layout | filter | recall@1 | recall@10 | k products back | p50 ms | p95 ms | vector bytes / photo |
| --- | --- | --- | --- | --- | --- | --- | --- |
${table}
`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
