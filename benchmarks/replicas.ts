/**
 * `npm run bench:replicas`: kNN search throughput on a multi-node Elasticsearch cluster with 0, 1 and 2 replicas.
 *
 * Needs ES_URL naming every node of a cluster with at least three data nodes (`ES_NODES=3 npm run services:up` prints
 * it). Builds a catalog index with the real mapping (the main model's field only) filled with clustered synthetic
 * vectors, then for each shard count and each replica count: sets the replicas, waits for green, warms up, and runs
 * `--clients` concurrent clients for `--seconds`, each sending raw-vector kNN searches straight to Elasticsearch,
 * spread over the nodes, after a warm-up. Replicas go 0, 1, 2 and back to 0, so that drift (the machine's other load,
 * caches) shows as a difference between the two rows with 0. Writes
 * benchmarks/results/replicas.{json,md}.
 *
 * Flags: --products (10000), --clients (4), --seconds (20), --shards (comma-separated, "1,3").
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../core/config';
import { createLogger } from '../core/logger';
import { seededRandom } from '../core/random';
import { vectorField } from '../core/search/catalog-mapping';
import { knnClause } from '../core/search/filters';
import { setReplicas, waitForReplicas } from '../core/search/index-layout';
import { createBenchIndex, request } from './lib/bench-index';
import { fixed, percentile, writeResult } from './lib/report';

const MODEL = 'efficientnet-lite0';
const flag = (name: string, fallback: string): string => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
};
const products = Number(flag('products', '10000'));
const clients = Number(flag('clients', '4'));
const seconds = Number(flag('seconds', '20'));
const shardCounts = flag('shards', '1,3').split(',').map(Number);
const REPLICAS = [0, 1, 2, 0];
const CLUSTERS = 64;
const WARM_UP_S = 10;

const unit = (vector: number[]): number[] => {
  const norm = Math.hypot(...vector);
  return vector.map((value) => value / norm);
};

/**
 * Unit vectors around `CLUSTERS` random centres (cosine about 0.8 to their centre): neighbourhoods like an embedding
 * model's, not uniform noise, which no index can search well. Products and queries share the centres.
 */
function clusteredVectors(dims: number): { product: (i: number) => number[]; query: () => number[] } {
  const random = seededRandom(17);
  const centres = Array.from({ length: CLUSTERS }, () => unit(Array.from({ length: dims }, () => random() * 2 - 1)));
  const around = (centre: number[]) => unit(centre.map((value) => value + ((random() * 2 - 1) * 1.3) / Math.sqrt(dims)));
  return { product: (i) => around(centres[i % CLUSTERS]!), query: () => around(centres[Math.floor(random() * CLUSTERS)]!) };
}

interface Run {
  shards: number;
  replicas: number;
  searches: number;
  errors: number;
  searches_per_s: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
}

async function main(): Promise<void> {
  const stamp = Date.now().toString(36);
  const base = loadConfig(process.env);
  const nodes = base.elasticsearch.nodes;
  const logger = createLogger(loadConfig({ ...process.env, LOG_LEVEL: 'warn' }));
  const runs: Run[] = [];
  let dataNodes = 0;
  let heap = '';
  const loadBefore = os.loadavg()[0]!;
  for (const shards of shardCounts) {
    const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn', MODELS: MODEL, INDEX_ALIAS: `bench-replicas-${stamp}-${shards}`, INDEX_SHARDS: String(shards), INDEX_REPLICAS: '0', INDEX_REFRESH_INTERVAL: '-1' });
    const bench = await createBenchIndex(config, logger);
    try {
      dataNodes = (await bench.es.cluster.health()).number_of_data_nodes;
      if (dataNodes < 3) throw new Error(`the cluster at ${config.elasticsearch.url} has ${dataNodes} data node(s); start three with ES_NODES=3 npm run services:up and set ES_URL to all of them`);
      const jvm = await bench.es.nodes.info({ metric: 'jvm' });
      heap = [...new Set(Object.values(jvm.nodes).map((node) => `${Math.round((node.jvm?.mem?.heap_max_in_bytes ?? 0) / 2 ** 20)} MB`))].join(', ');
      const dims = (await bench.es.indices.getMapping({ index: bench.index }))[bench.index]!.mappings.properties!.vectors as unknown as { properties: Record<string, { dims: number }> };
      const vectors = clusteredVectors(dims.properties[MODEL]!.dims);
      await bench.fill(products, (i) => ({ id: `p${i}`, title: `product ${i}`, available: true, source_version: 1, vectors: { [MODEL]: vectors.product(i) } }), `loading ${products} products (${shards} shard(s))`);
      await bench.es.indices.forcemerge({ index: bench.index, max_num_segments: 1 }, { requestTimeout: 30 * 60_000 });
      for (const replicas of REPLICAS) {
        await setReplicas(bench.es, bench.index, replicas);
        await waitForReplicas(bench.es, bench.index, replicas, logger);
        runs.push(await measure(bench.index, nodes, shards, replicas, vectors.query, seconds));
        const run = runs[runs.length - 1]!;
        process.stderr.write(`${shards} shard(s), ${replicas} replica(s): ${fixed(run.searches_per_s, 1)} searches/s, p50 ${fixed(run.p50_ms, 1)} ms, p99 ${fixed(run.p99_ms, 1)} ms, ${run.errors} errors\n`);
      }
    } finally {
      await bench.drop();
    }
  }
  const loadAfter = os.loadavg()[0]!;
  const table = runs.map((run) => `| ${run.shards} | ${run.replicas} | ${fixed(run.searches_per_s, 1)} | ${fixed(run.p50_ms, 1)} | ${fixed(run.p95_ms, 1)} | ${fixed(run.p99_ms, 1)} | ${run.errors} |`).join('\n');
  writeResult('replicas', 'npm run bench:replicas', { products, clients, seconds, dims: 1280, model_field: vectorField(MODEL), nodes: nodes.length, data_nodes: dataNodes, heap, load_average: { before: loadBefore, after: loadAfter }, runs }, `
# kNN search throughput and replicas

${products} products (clustered synthetic 1280-d vectors in the \`${vectorField(MODEL)}\` field, int8_hnsw, force-merged to
one segment per shard), ${nodes.length} Elasticsearch nodes on loopback (heap ${heap}), ${clients} concurrent clients for
${seconds} s per row, each sending raw-vector kNN searches (k 10, 100 candidates) straight to Elasticsearch, round robin
over the nodes, after ${WARM_UP_S} s of unmeasured searches. Per shard count, replicas 0, 1, 2 and 0 again.

| shards | replicas | searches/s | p50 ms | p95 ms | p99 ms | errors |
| --- | --- | --- | --- | --- | --- | --- |
${table}

Every node runs on this one machine: the copies share its ${os.cpus().length} cores, which others were using too (load
average ${fixed(loadBefore, 1)} before, ${fixed(loadAfter, 1)} after). How to read this: docs/scaling.md.
`);
}

/**
 * `clients` loops of kNN searches for `seconds`, each client starting at its own node, after `WARM_UP_S` unmeasured:
 * a new copy's first searches read its files into the page cache, and its node compiles the search code.
 */
async function measure(index: string, nodes: string[], shards: number, replicas: number, query: () => number[], seconds: number): Promise<Run> {
  const field = vectorField(MODEL);
  const body = () => JSON.stringify({ knn: knnClause({ field, vector: query(), k: 10, numCandidates: 100, filters: [] }), size: 10, _source: false });
  const latencies: number[] = [];
  let errors = 0;
  let recording = false;
  let running = true;
  const loops = Array.from({ length: clients }, async (_, client) => {
    for (let n = 0; running; n++) {
      const node = nodes[(client + n) % nodes.length]!;
      try {
        const { ms } = await request(`${node}/${index}/_search`, 'POST', { 'content-type': 'application/json' }, body());
        if (recording) latencies.push(ms);
      } catch {
        if (recording) errors++;
        await sleep(50);
      }
    }
  });
  await sleep(WARM_UP_S * 1_000);
  recording = true;
  const started = performance.now();
  await sleep(seconds * 1_000);
  recording = false;
  const elapsed = (performance.now() - started) / 1000;
  running = false;
  await Promise.all(loops);
  return {
    shards,
    replicas,
    searches: latencies.length,
    errors,
    searches_per_s: latencies.length / elapsed,
    p50_ms: percentile(latencies, 50),
    p95_ms: percentile(latencies, 95),
    p99_ms: percentile(latencies, 99),
  };
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:replicas failed: ${(error as Error).message}\n`);
  process.exit(1);
});
