import type { Client } from '@elastic/elasticsearch';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createProgress } from '../../core/progress';

/** Elasticsearch-side steps and readings of a benchmark: merges, force merge, segments, heap. */

/** Waits until no merge runs on `index` (a settled index, as between bulk loads); seconds waited. */
export async function waitForMerges(es: Client, index: string): Promise<number> {
  const started = performance.now();
  for (;;) {
    const merges = (await es.indices.stats({ index, metric: 'merge' }))._all.primaries?.merges?.current ?? 0;
    if (merges === 0) return (performance.now() - started) / 1000;
    await sleep(1000);
  }
}

export interface Segments {
  count: number;
  largest_bytes: number;
}

/** The searchable segments of `index`. */
export async function segments(es: Client, index: string): Promise<Segments> {
  const rows = (await es.cat.segments({ index, format: 'json', bytes: 'b' })) as Array<{ 'size'?: string; searchable?: string }>;
  const searchable = rows.filter((segment) => segment.searchable !== 'false');
  return { count: searchable.length, largest_bytes: Math.max(0, ...searchable.map((segment) => Number(segment.size ?? 0))) };
}

/**
 * Force-merges `index` to one segment, the tuning Elasticsearch documents for an index after a bulk load (one HNSW
 * graph to search instead of one per segment). Runs as a task, polled, so that no client timeout or retry sends it
 * twice; seconds.
 */
export async function forceMerge(es: Client, index: string, label: string): Promise<number> {
  const started = performance.now();
  const response = (await es.indices.forcemerge({ index, max_num_segments: 1, wait_for_completion: false })) as unknown as { task: string };
  const bar = createProgress(label);
  for (;;) {
    const task = await es.tasks.get({ task_id: response.task, wait_for_completion: true, timeout: '10s' }).catch(() => undefined);
    if (task?.completed) {
      if (task.error) throw new Error(`force merge of ${index} failed: ${JSON.stringify(task.error).slice(0, 500)}`);
      break;
    }
    bar.update(Math.round((performance.now() - started) / 1000), undefined, `s, ${(await segments(es, index)).count} segments`);
  }
  bar.done();
  await es.indices.refresh({ index });
  return (performance.now() - started) / 1000;
}

/**
 * Samples the heap of Elasticsearch's nodes every `everyMs`; `stop` returns the largest heap used, the largest old
 * generation (what survives collections: closer to what the work needs than the sawtooth of the whole heap), and the
 * heap's size.
 */
export function sampleHeap(es: Client, everyMs = 2000): { stop(): Promise<{ max_used_bytes: number; max_old_bytes: number; heap_bytes: number }> } {
  let maxUsed = 0;
  let maxOld = 0;
  let heap = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const stats = await es.nodes.stats({ metric: 'jvm' }).catch(() => undefined);
      for (const node of Object.values(stats?.nodes ?? {})) {
        maxUsed = Math.max(maxUsed, node.jvm?.mem?.heap_used_in_bytes ?? 0);
        maxOld = Math.max(maxOld, node.jvm?.mem?.pools?.old?.used_in_bytes ?? 0);
        heap = Math.max(heap, node.jvm?.mem?.heap_max_in_bytes ?? 0);
      }
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { max_used_bytes: maxUsed, max_old_bytes: maxOld, heap_bytes: heap };
    },
  };
}
