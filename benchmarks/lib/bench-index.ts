import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@elastic/elasticsearch';
import type { Config } from '../../core/config';
import { resolveManifests, vectorFieldSpecs } from '../../core/embedding/manifest';
import type { Logger } from '../../core/logger';
import { createProgress } from '../../core/progress';
import { createElasticsearchClient } from '../../core/search/elasticsearch';
import { BULK_LOAD_SETTINGS, IndexManager } from '../../core/search/index-manager';
import { bulkWrite, isTransientFailure, type BulkAction } from '../../core/search/bulk';
import { embeddedPhoto, photoFields } from '../../core/search/photos';
import type { ClipartItem } from './clipart';

// Idle connections are closed before a Node server's keep-alive timeout (5 s), so that none is reused as it closes.
const sharedAgent = new http.Agent({ keepAlive: true, maxSockets: 4, timeout: 4_000 });

/**
 * One HTTP request over a keep-alive connection (node:http: the client adds as little as it can to the time). The
 * default agent holds 4 connections; a load that sends without waiting needs an agent of its own with more.
 */
export function request(url: string, method: string, headers: Record<string, string>, body: Buffer | string, agent: http.Agent = sharedAgent): Promise<{ ms: number; body: Record<string, unknown> }> {
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

/**
 * A catalog document as the indexer writes it, with random attributes (brand, colour, sizes, price, stock), and the
 * photo's region descriptors when given. `vectors`: one photo's vectors per model, or several photos' (each its own
 * photo of the product, as `images` gives them).
 */
export function benchProduct(
  i: number,
  item: Pick<ClipartItem, 'category' | 'subcategory'>,
  vectors: Record<string, number[]> | Array<Record<string, number[]>>,
  random: () => number,
  /** Encoded region descriptors per model: of the first photo, or (a list) of each photo in turn. */
  regions: Record<string, string> | Array<Record<string, string>> = {},
): Record<string, unknown> {
  const now = new Date().toISOString();
  const photos = Array.isArray(vectors) ? vectors : [vectors];
  const regionsOf = (n: number): Record<string, string> => (Array.isArray(regions) ? (regions[n] ?? {}) : n === 0 ? regions : {});
  const photo = (own: Record<string, number[]>, n: number) => {
    const hash = `bench${i.toString(16).padStart(12, '0')}${n > 0 ? `-${n}` : ''}`;
    return embeddedPhoto(`http://127.0.0.1/bench/${i}${n > 0 ? `-${n}` : ''}.jpg`, hash, own, Object.keys(own).map((id) => ({ id, version: '1' })), new Date(), regionsOf(n));
  };
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
    ...photoFields(photos.map(photo)),
  };
}

export interface BenchIndex {
  es: Client;
  /** The concrete index behind the alias. */
  index: string;
  /** Whether the index was made by this call (false: it existed, and `fill` goes on from what it holds). */
  created: boolean;
  /**
   * Writes documents `loaded … count − 1` (ids `p<i>`), `BULK_BATCH` a request, two requests in flight, then ends the
   * bulk load (IndexManager.endBulkLoad: the configured refresh interval and replicas, a refresh); seconds.
   * `progress` hears of every request written (documents written so far, seconds so far in this call).
   */
  fill(count: number, document: (i: number) => Record<string, unknown>, label: string, progress?: (written: number, seconds: number) => void): Promise<number>;
  /** Deletes every version of the alias, and closes the client. */
  drop(): Promise<void>;
  /** Closes the client and leaves the index as it is (to be used again). */
  close(): Promise<void>;
}

/** Documents per bulk request. */
export const BULK_BATCH = 250;
/** How often a bulk item that Elasticsearch refused for the moment (429, 5xx) is sent again. */
const BULK_ATTEMPTS = 5;

export interface BenchIndexOptions {
  /** Fields of the benchmark's own beside the catalog mapping (an exact copy of a vector field, say). */
  extraProperties?: Record<string, unknown>;
}

/**
 * The catalog index of a benchmark: created through IndexManager under the config's alias (so it has the real
 * mapping, layout and vector index options) as a migration creates a version for its bulk load (BULK_LOAD_SETTINGS),
 * or found there from an earlier run, in which case `fill` goes on from the documents it holds, less the last two
 * requests' worth (those in flight when that run stopped).
 */
export async function createBenchIndex(config: Config, logger: Logger, options: BenchIndexOptions = {}): Promise<BenchIndex> {
  // Long requests: a bulk request waits while merges of a large catalog run, and a retry after a timeout would send it twice.
  const es = createElasticsearchClient({ ...config.elasticsearch, requestTimeoutMs: 600_000 });
  const manager = new IndexManager(es, config.index, logger);
  const specs = vectorFieldSpecs(config, resolveManifests(config.models.ids, config.models.dir));
  const current = await manager.currentIndex();
  const created = current === null;
  // A kept index is closed between runs (a million products' files would otherwise stay in memory): opened again here.
  if (current !== null) await es.indices.open({ index: current, wait_for_active_shards: 1 });
  if (created) await manager.createIndex(manager.versionName(1), specs, { alias: true, ...BULK_LOAD_SETTINGS });
  const { index } = await manager.ensure(specs);
  if (options.extraProperties) await es.indices.putMapping({ index, properties: options.extraProperties as never });
  let loaded = 0;
  if (!created) {
    await es.indices.refresh({ index });
    loaded = Math.max(0, (await es.count({ index })).count - 2 * BULK_BATCH);
  }
  const send = async (from: number, to: number, document: (i: number) => Record<string, unknown>) => {
    let actions: BulkAction[] = [];
    for (let i = from; i < to; i++) actions.push({ op: 'index', index, id: `p${i}`, document: document(i) });
    for (let attempt = 1; actions.length > 0; attempt++) {
      const { failures } = await bulkWrite(es, actions);
      const retry = new Set(failures.filter(isTransientFailure).map((failure) => failure.id));
      const fatal = failures.find((failure) => !retry.has(failure.id));
      if (fatal) throw new Error(`bulk: ${fatal.id}: ${fatal.type}: ${fatal.reason}`);
      if (retry.size > 0 && attempt >= BULK_ATTEMPTS) throw new Error(`bulk: ${retry.size} documents still refused after ${attempt} attempts: ${failures[0]!.reason}`);
      actions = actions.filter((action) => retry.has(action.id));
      if (actions.length > 0) await sleep(500 * attempt);
    }
  };
  return {
    es,
    index,
    created,
    async fill(count, document, label, progress) {
      const bar = createProgress(label);
      const started = performance.now();
      const inFlight = new Set<Promise<void>>();
      while (loaded < count) {
        const from = loaded;
        loaded = Math.min(count, loaded + BULK_BATCH);
        const promise = send(from, loaded, document).then(() => {
          inFlight.delete(promise);
          bar.update(loaded - inFlight.size * BULK_BATCH, count);
          progress?.(loaded - inFlight.size * BULK_BATCH, (performance.now() - started) / 1000);
        });
        inFlight.add(promise);
        if (inFlight.size >= 2) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      await manager.endBulkLoad(index);
      bar.done();
      return (performance.now() - started) / 1000;
    },
    async drop() {
      for (const name of Object.keys(await es.indices.get({ index: `${config.index.alias}-v*` }).catch(() => ({})))) await es.indices.delete({ index: name });
      await es.close();
    },
    async close() {
      await es.close();
    },
  };
}
