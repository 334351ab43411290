import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Pipeline } from './pipeline-helpers';

/**
 * Indexer processes for the reliability tests: the built indexer (dist/) started as a child process on a pipeline's
 * index and queues, optionally recording what it does (tests/fixtures/record-indexing.preload.js), and the checks
 * that every product ended indexed, each document written once.
 */

const root = path.resolve(__dirname, '..', '..');

/** `indexingLog`: record the jobs the process takes and the images it embeds (tests/fixtures/record-indexing.preload.js). */
export function startIndexer(p: Pipeline, env: Record<string, string> = {}, indexingLog?: string): ChildProcess {
  const preload = indexingLog ? ['-r', path.join(root, 'tests', 'fixtures', 'record-indexing.preload.js')] : [];
  return spawn(process.execPath, [...preload, path.join(root, 'dist', 'indexer', 'main.js')], {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      INDEX_ALIAS: p.config.index.alias,
      QUEUE_PREFIX: p.config.redis.queuePrefix,
      REDIS_URL: p.config.redis.url,
      ES_URL: p.config.elasticsearch.url,
      FETCH_ALLOWED_HOSTS: '127.0.0.1',
      INDEXER_PORT: '0',
      // Short, so a killed worker's jobs come back soon; not shorter: a worker starved of CPU for longer than half of
      // it (a busy two-core machine) loses its locks, and jobs stalled more than 5 times fail.
      JOB_LOCK_MS: '5000',
      JOB_BACKOFF_MS: '200',
      BATCH_MAX_ITEMS: '8',
      ...(indexingLog ? { INDEXING_LOG: indexingLog } : {}),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export async function countIndexed(p: Pipeline, version: number): Promise<number> {
  await p.deps.es.indices.refresh({ index: p.config.index.alias });
  const response = await p.deps.es.count({
    index: p.config.index.alias,
    query: { bool: { filter: [{ term: { source_version: version } }, { exists: { field: 'embeddings.efficientnet-lite0' } }, { exists: { field: 'embeddings.colour-texture' } }] } },
  });
  return response.count;
}

export interface IndexedDocument {
  id: string;
  version: number | undefined;
  imageHash: string;
  embeddedAt: number;
}

/** Every product indexed at `version` with both models' vectors, each document written once; returns the documents. */
export async function assertEachWrittenOnce(p: Pipeline, ids: string[], version: number): Promise<IndexedDocument[]> {
  expect((await p.deps.es.count({ index: p.config.index.alias })).count).toBe(ids.length);
  expect(await countIndexed(p, version)).toBe(ids.length);
  const response = await p.deps.es.search<{ image_hash: string; embeddings: Record<string, { embedded_at: string }> }>({
    index: p.config.index.alias,
    size: ids.length,
    version: true,
    _source: ['image_hash', 'embeddings'],
  });
  const documents = response.hits.hits.map((hit) => ({
    id: hit._id!,
    version: hit._version,
    imageHash: hit._source!.image_hash,
    embeddedAt: Date.parse(hit._source!.embeddings['colour-texture']!.embedded_at),
  }));
  // A replayed or retried job that wrote again (even the same data) would show here as _version 2 or more.
  expect(documents.filter((document) => document.version !== 1)).toEqual([]);
  for (const id of [ids[0]!, ids[Math.floor(ids.length / 2)]!, ids[ids.length - 1]!]) {
    expect((await p.get(`/v1/products/${id}/status`)).body).toMatchObject({ state: 'indexed', version });
  }
  return documents;
}

/** One line of an indexing log: what a process did (`took`, `embedded`, `wrote`, `done`) to what, in order. */
export interface IndexingEvent {
  what: 'took' | 'embedded' | 'wrote' | 'done';
  pid: number;
  /** The product id (`embedded`: the image's content hash). */
  subject: string;
}

export function readIndexingLog(file: string): IndexingEvent[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => {
    const [what, pid, subject] = line.split(' ') as [IndexingEvent['what'], string, string];
    return { what, pid: Number(pid), subject };
  });
}
