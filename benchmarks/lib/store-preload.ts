import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Client } from '@elastic/elasticsearch';

/**
 * `index.store.preload` measured where it matters: an index opened with its files out of the page cache (after a
 * restart, or after other work pushed them out). Elasticsearch then either reads the listed files into memory while
 * the shard opens, or the first searches fault the graph and vectors in from disk, page by page.
 *
 * Needs Elasticsearch on this machine (its data directory readable here) and python3 (os.posix_fadvise); the
 * benchmark says so and goes on without this measurement otherwise.
 */

/** The files approximate kNN reads on every search: the HNSW graph, int8/int4 vectors, bbq vectors. */
export const KNN_PRELOAD = ['vex', 'veq', 'veb'];

/** The directory of an index's files, when Elasticsearch runs on this machine; null otherwise. */
export async function localIndexDirectory(es: Client, index: string): Promise<string | null> {
  const settings = await es.indices.getSettings({ index, name: 'index.uuid', flat_settings: true });
  const uuid = (Object.values(settings)[0]?.settings as Record<string, string> | undefined)?.['index.uuid'];
  const stats = (await es.nodes.stats({ metric: 'fs' })) as unknown as { nodes: Record<string, { fs?: { data?: Array<{ path: string }> } }> };
  for (const node of Object.values(stats.nodes)) {
    for (const data of node.fs?.data ?? []) {
      const directory = path.join(data.path, 'indices', uuid ?? '');
      if (uuid && fs.existsSync(directory)) return directory;
    }
  }
  return null;
}

// Only the shards' Lucene files (<index>/<shard>/index/), which Elasticsearch does not rewrite while an index is closed
// or opening, unlike its state files; a file that goes away meanwhile is passed over.
const EVICT = `
import os, sys
for root, _, files in os.walk(sys.argv[1]):
    if os.path.basename(root) != 'index':
        continue
    for name in files:
        try:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
`;

/** Asks the kernel to drop the index's Lucene files from the page cache (only these files: nobody else's). */
export function evictFromPageCache(directory: string): void {
  execFileSync('python3', ['-c', EVICT, directory], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** The shards' Lucene files under an index's directory that exist now. */
function luceneFiles(directory: string): string[] {
  return fs
    .readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .map((name) => path.join(directory, name))
    .filter((file) => path.basename(path.dirname(file)) === 'index' && fs.existsSync(file) && fs.statSync(file).isFile());
}

/** How much of the index's Lucene files is in the page cache now (fincore), and their size; NaN without fincore. */
export function pageCacheShare(directory: string): { cached_bytes: number; total_bytes: number } {
  const files = luceneFiles(directory);
  const total = files.reduce((sum, file) => sum + fs.statSync(file).size, 0);
  if (files.length === 0) return { cached_bytes: 0, total_bytes: 0 };
  try {
    const out = execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', ...files], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { cached_bytes: out.split('\n').filter(Boolean).reduce((sum, line) => sum + Number(line.trim()), 0), total_bytes: total };
  } catch {
    return { cached_bytes: NaN, total_bytes: total };
  }
}

export interface ColdOpen {
  preload: string[];
  /**
   * Whether the index's segments are compound files (`index.compound_format`: below 1 GB by default). Preload
   * matches file extensions, and a compound segment's vectors and graph sit inside its `.cfs`: nothing to preload.
   */
  compound: boolean;
  /** From the open request to the shard answering (with preload: the files read in). */
  open_ms: number;
  /** The index's files in the page cache right after the open, and their size. */
  cached_after_open: { cached_bytes: number; total_bytes: number };
  /** The first searches after the open, in order. */
  first_ms: number[];
}

/**
 * Closes `index`, sets `index.store.preload` (a static setting: only on a closed index), drops its files from the
 * page cache, opens it, and times the open and the `count` searches that follow.
 */
export async function coldOpen(es: Client, index: string, directory: string, preload: string[], count: number, search: (n: number) => Promise<number>): Promise<ColdOpen> {
  await es.indices.close({ index, wait_for_active_shards: 0 });
  let started = performance.now();
  try {
    await es.indices.putSettings({ index, settings: { 'index.store.preload': preload } });
    evictFromPageCache(directory);
    started = performance.now();
  } finally {
    // Open again whatever happened: a benchmark must not leave a closed index behind.
    await es.indices.open({ index, wait_for_active_shards: 1 });
    await es.cluster.health({ index, wait_for_status: 'yellow', timeout: '10m' });
  }
  const openMs = performance.now() - started;
  const cached = pageCacheShare(directory);
  const segments = (await es.cat.segments({ index, format: 'json', h: 'compound' })) as Array<{ compound?: string }>;
  const first: number[] = [];
  for (let n = 0; n < count; n++) first.push(await search(n));
  return { preload, compound: segments.some((segment) => segment.compound === 'true'), open_ms: openMs, cached_after_open: cached, first_ms: first };
}
