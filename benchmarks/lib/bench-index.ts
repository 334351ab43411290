import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Client } from '@elastic/elasticsearch';
import { createElasticsearchClient } from '../../core/search/elasticsearch';
import type { Config } from '../../core/config';
import { resolveManifests, vectorFieldSpecs } from '../../core/embedding/manifest';
import type { Logger } from '../../core/logger';
import { createProgress } from '../../core/progress';
import { IndexManager } from '../../core/search/index-manager';
import type { ClipartItem } from './clipart';
import { embeddedPhoto, photoFields } from '../../core/search/photos';

/**
 * A catalog index for a benchmark: created through IndexManager under the config's alias (so it has the real mapping),
 * filled with NDJSON bulk requests, deleted at the end.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** One HTTP request over a keep-alive connection (node:http: the client adds as little as it can to the time). */
export function request(url: string, method: string, headers: Record<string, string>, body: Buffer | string): Promise<{ ms: number; body: Record<string, unknown> }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const outgoing = http.request(url, { method, agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const ms = performance.now() - started;
        if ((response.statusCode ?? 500) >= 300) return reject(new Error(`${url} answered ${response.statusCode}: ${text.slice(0, 300)}`));
        resolve({ ms, body: JSON.parse(text) as Record<string, unknown> });
      });
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

const BRANDS = ['acme', 'globex', 'initech', 'umbrella', 'stark', 'wayne', 'hooli', 'vandelay', 'wonka', 'tyrell', 'cyberdyne', 'soylent'];
const COLOURS = ['black', 'white', 'red', 'blue', 'green', 'yellow', 'brown', 'grey', 'pink', 'purple'];
const SIZES = ['XS', 'S', 'M', 'L', 'XL'];

/** A catalog document as the indexer writes it, with random attributes (brand, colour, sizes, price, stock). */
export function benchProduct(i: number, item: ClipartItem, vectors: Record<string, number[]>, random: () => number): Record<string, unknown> {
  const now = new Date().toISOString();
  const hash = `bench${i.toString(16).padStart(12, '0')}`;
  return {
    id: `p${i}`,
    title: `${item.subcategory} ${i}`,
    brand: BRANDS[Math.floor(random() * BRANDS.length)],
    category: item.category,
    color: COLOURS[Math.floor(random() * COLOURS.length)],
    sizes: SIZES.filter(() => random() < 0.5),
    price: Math.round((5 + random() * 295) * 100) / 100,
    currency: 'EUR',
    available: random() < 0.8,
    updated_at: now,
    indexed_at: now,
    source_version: 1,
    deleted: false,
    ...photoFields([embeddedPhoto(`http://127.0.0.1/bench/${i}.jpg`, hash, vectors, Object.keys(vectors).map((id) => ({ id, version: '1' })))]),
  };
}

export interface BenchIndex {
  es: Client;
  /** The concrete index behind the alias. */
  index: string;
  /** Writes documents `loaded … count − 1` (ids `p<i>`), 250 a request, two requests in flight; refreshes; seconds. */
  fill(count: number, document: (i: number) => Record<string, unknown>, label: string): Promise<number>;
  /** Deletes every version of the alias. */
  drop(): Promise<void>;
}

export async function createBenchIndex(config: Config, logger: Logger): Promise<BenchIndex> {
  const es = createElasticsearchClient(config.elasticsearch);
  const nodes = config.elasticsearch.nodes;
  const manager = new IndexManager(es, config.index, logger);
  const { index } = await manager.ensure(vectorFieldSpecs(config, resolveManifests(config.models.ids, config.models.dir)));
  let loaded = 0;
  return {
    es,
    index,
    async fill(count, document, label) {
      const bar = createProgress(label);
      const started = performance.now();
      const send = async (from: number, to: number) => {
        const lines: string[] = [];
        for (let i = from; i < to; i++) lines.push(JSON.stringify({ index: { _index: index, _id: `p${i}` } }), JSON.stringify(document(i)));
        // Spread over the nodes given, as the client does.
        const response = await request(`${nodes[(from / 250) % nodes.length]}/_bulk`, 'POST', { 'content-type': 'application/x-ndjson' }, `${lines.join('\n')}\n`);
        if (response.body.errors) throw new Error(`bulk errors: ${JSON.stringify(response.body).slice(0, 500)}`);
      };
      const inFlight = new Set<Promise<void>>();
      while (loaded < count) {
        const from = loaded;
        loaded = Math.min(count, loaded + 250);
        const promise = send(from, loaded).then(() => {
          inFlight.delete(promise);
          bar.update(loaded - inFlight.size * 250, count);
        });
        inFlight.add(promise);
        if (inFlight.size >= 2) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      await es.indices.refresh({ index });
      bar.done();
      return (performance.now() - started) / 1000;
    },
    async drop() {
      for (const name of Object.keys(await es.indices.get({ index: `${config.index.alias}-v*` }).catch(() => ({})))) await es.indices.delete({ index: name });
      await es.close();
    },
  };
}
