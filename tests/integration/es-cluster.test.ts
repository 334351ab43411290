import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../core/config';
import { createElasticsearchClient, type ElasticsearchClient } from '../../core/search/elasticsearch';
import { failureWindow, recordMeasurement, steadyStream } from './failover-helpers';
import { startImageServer, startPipeline, upsert } from './pipeline-helpers';
import { elasticsearchDistribution, startEsCluster, type EsCluster } from './service-clusters';

/**
 * A real three-node Elasticsearch cluster of the test's own (HTTP 9230–9232, transport 9330–9332, 512 MB heap per
 * node, in a temporary directory), started once for this file with scripts/services.sh: the index layout on a
 * cluster, and a node killed with SIGKILL while searches and catalog updates run. Skipped, saying so, only where the
 * Elasticsearch distribution is absent (scripts/services.sh up fetches it).
 */
jest.setTimeout(300_000);

const root = path.resolve(__dirname, '..', '..');
const distribution = elasticsearchDistribution();
const describeWithDistribution = distribution.present ? describe : describe.skip;
if (!distribution.present) {
  process.stderr.write(`es-cluster.test.ts skipped: no Elasticsearch ${distribution.version} distribution at ${distribution.where}; run npm run services:up once to fetch it\n`);
}

/** Runs the built CLI; resolves with its exit status and stdout (async: the cluster's nodes share this machine). */
function cli(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'bin', 'lookalike.js'), ...args], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

interface ShardCopy {
  index: string;
  shard: string;
  prirep: 'p' | 'r';
  state: string;
  node: string | null;
}

async function shardCopies(es: ElasticsearchClient, index: string): Promise<ShardCopy[]> {
  return (await es.cat.shards({ index, format: 'json', h: ['index', 'shard', 'prirep', 'state', 'node'] })) as unknown as ShardCopy[];
}

/** Every copy started, and no node holds two copies of one shard. */
function expectSpread(copies: ShardCopy[], shards: number, replicas: number): void {
  expect(copies).toHaveLength(shards * (replicas + 1));
  expect(copies.filter((copy) => copy.state !== 'STARTED')).toEqual([]);
  for (let shard = 0; shard < shards; shard++) {
    const nodes = copies.filter((copy) => copy.shard === String(shard)).map((copy) => copy.node);
    expect(new Set(nodes).size).toBe(replicas + 1);
  }
}

describeWithDistribution('a three-node Elasticsearch cluster', () => {
  let cluster: EsCluster;
  let es: ElasticsearchClient;
  beforeAll(async () => {
    cluster = await startEsCluster({ nodes: 3, httpPort: 9230, transportPort: 9330 });
    es = createElasticsearchClient(loadConfig({ ES_URL: cluster.url }).elasticsearch);
  }, 600_000);
  afterAll(async () => {
    await es?.close();
    await cluster?.stop();
  });

  it('honours INDEX_SHARDS and INDEX_REPLICAS: `index ensure` creates the version with them and sets replicas on it later; `index migrate` builds the next with its own, swapped once its replicas are started', async () => {
    const alias = `test-${randomUUID().slice(0, 8)}`;
    const env = { ES_URL: cluster.url, INDEX_ALIAS: alias, MODELS: 'colour-texture' };
    try {
      const created = await cli(['index', 'ensure'], { ...env, INDEX_SHARDS: '3', INDEX_REPLICAS: '0' });
      expect(JSON.parse(created.stdout)).toMatchObject({ index: `${alias}-v1`, created: true, shards: 3, replicas: 0 });
      await es.cluster.health({ index: alias, wait_for_status: 'green', timeout: '60s' });
      expectSpread(await shardCopies(es, `${alias}-v1`), 3, 0);
      // Three primaries on three nodes: every node takes part in every search.
      expect(new Set((await shardCopies(es, `${alias}-v1`)).map((copy) => copy.node)).size).toBe(3);

      const replicated = await cli(['index', 'ensure'], { ...env, INDEX_SHARDS: '3', INDEX_REPLICAS: '1' });
      expect(JSON.parse(replicated.stdout)).toMatchObject({ index: `${alias}-v1`, created: false, shards: 3, replicas: 1 });
      await es.cluster.health({ index: alias, wait_for_status: 'green', timeout: '60s' });
      expectSpread(await shardCopies(es, `${alias}-v1`), 3, 1);

      const operations = Array.from({ length: 200 }, (_, i) => [{ index: { _index: alias, _id: `p-${i}` } }, { id: `p-${i}`, title: `Product ${i}`, source_version: 1, indexed_at: new Date().toISOString() }]).flat();
      expect((await es.bulk({ operations, refresh: true })).errors).toBe(false);

      const migrated = await cli(['index', 'migrate'], { ...env, INDEX_SHARDS: '2', INDEX_REPLICAS: '2' });
      expect(migrated.status).toBe(0);
      expect(JSON.parse(migrated.stdout)).toMatchObject({ from: `${alias}-v1`, to: `${alias}-v2`, copied: 200 });
      // Green the moment the alias moved: the migration waited for the replicas before the swap.
      expect((await es.cluster.health({ index: `${alias}-v2` })).status).toBe('green');
      expectSpread(await shardCopies(es, `${alias}-v2`), 2, 2);
      expect((await es.count({ index: alias })).count).toBe(200);
    } finally {
      await es.indices.delete({ index: `${alias}-v*` }, { ignore: [404] });
    }
  });

  it('kill -9 of the elected master while searches and catalog updates run: searches answer after a short window, no update is lost, the node comes back and the cluster is green again', async () => {
    const images = await startImageServer();
    // Three primaries with one replica each: every node holds primaries, and each shard survives any one node.
    const p = await startPipeline({ ES_URL: cluster.url, INDEX_SHARDS: '3', INDEX_REPLICAS: '1', RATE_LIMIT_PER_S: '0' });
    try {
      const ids = Array.from({ length: 12 }, (_, i) => `n-${i}`);
      const imageOf = (i: number) => `${images.url}/img/${1100 + i}.jpg`;
      expect((await p.post({ events: ids.map((id, i) => upsert(id, 1, imageOf(i), { price: 1 })) })).status).toBe(202);
      // Indexed once each job is done (a write waits for the refresh of every copy); a count could see a copy that
      // refreshed before another did.
      await p.waitFor(async () => (await p.queue.getJobCountByTypes('waiting', 'active', 'delayed')) === 0 && (await p.queue.getJobCountByTypes('completed')) === ids.length, 120_000);
      await es.cluster.health({ index: p.config.index.alias, wait_for_status: 'green', timeout: '60s' });
      const stored = await es.search<{ vectors: Record<string, number[]> }>({ index: p.config.index.alias, size: ids.length, _source: { exclude_vectors: false, includes: ['vectors.efficientnet-lite0'] } as never });
      const vectors = new Map(stored.hits.hits.map((hit) => [hit._id!, hit._source!.vectors['efficientnet-lite0']!]));
      expect([...vectors.keys()].sort()).toEqual([...ids].sort());

      // A product's own vector must find that product: a search that lost a shard would miss it.
      const searches = steadyStream(async (n) => {
        const id = ids[n % ids.length]!;
        const response = await p.search({ vector: vectors.get(id), k: 3 });
        const found = response.status === 200 && (response.body.results as Array<{ id: string }>).some((result) => result.id === id);
        return { ok: found, detail: found ? '' : response.status === 200 ? `${id} not found` : `${response.status} ${response.body?.error?.code}` };
      }, 100);
      const latest = new Map(ids.map((id) => [id, 1]));
      const updates = steadyStream(async (n) => {
        const i = n % ids.length;
        const version = latest.get(ids[i]!)! + 1;
        const response = await p.post(upsert(ids[i]!, version, imageOf(i), { price: version }));
        if (response.status === 202) latest.set(ids[i]!, version);
        return { ok: response.status === 202, detail: `${response.status}` };
      }, 150);

      await p.waitFor(async () => searches.outcomes.filter((o) => o.ok).length >= 10 && updates.outcomes.filter((o) => o.ok).length >= 5, 60_000);
      const victim = await cluster.masterNode();
      const killedAt = Date.now();
      cluster.kill(victim);
      await sleep(10_000);
      const restartedAt = Date.now();
      await cluster.restart();
      await cluster.waitForGreen();
      const greenAt = Date.now();
      await sleep(2_000);
      await Promise.all([searches.stop(), updates.stop()]);

      const searchWindow = failureWindow(searches.outcomes, killedAt);
      recordMeasurement('es-node-failure', {
        killed: `node ${victim} (the elected master)`,
        searches: searchWindow,
        updates: failureWindow(updates.outcomes, killedAt),
        secondsToRestartNode: (greenAt - restartedAt) / 1000,
      });
      expect(searches.outcomes.filter((outcome) => outcome.at + outcome.ms < killedAt && !outcome.ok)).toEqual([]);
      expect(updates.outcomes.filter((outcome) => !outcome.ok)).toEqual([]);

      // Every product ends at its last version, with that version's price.
      await p.waitFor(async () => (await p.queue.getJobCountByTypes('waiting', 'active', 'delayed')) === 0, 120_000);
      await es.indices.refresh({ index: p.config.index.alias });
      const final = await es.search<{ source_version: number; price: number }>({ index: p.config.index.alias, size: ids.length, _source: ['source_version', 'price'] });
      const expected = ids.map((id) => ({ id, version: latest.get(id), price: latest.get(id) }));
      expect(final.hits.hits.map((hit) => ({ id: hit._id, version: hit._source!.source_version, price: hit._source!.price })).sort((a, b) => a.id!.localeCompare(b.id!, 'en', { numeric: true }))).toEqual(expected);
      expect(await p.queue.getJobCountByTypes('failed')).toBe(0);

      // Searches answer again within seconds of the kill, and keep answering while the node restarts.
      expect(searchWindow.windowMs).toBeLessThan(15_000);
      expect(searches.outcomes.filter((outcome) => outcome.at > killedAt + 15_000 && !outcome.ok)).toEqual([]);
      expect((await es.cluster.health()).status).toBe('green');
    } finally {
      await p.close();
      await images.close();
    }
  });
});
