import type { Client } from '@elastic/elasticsearch';
import type { Logger } from '../logger';

/**
 * How a catalog index version is laid out on the cluster: primary shards (fixed when the version is created; another
 * count takes `lookalike index migrate`) and replicas per primary (changeable on a live index).
 */
export interface IndexLayout {
  shards: number;
  replicas: number;
}

/** The live index's shards and replicas. */
export async function readLayout(es: Client, index: string): Promise<IndexLayout> {
  const response = await es.indices.getSettings({ index, filter_path: ['*.settings.index.number_of_shards', '*.settings.index.number_of_replicas'] });
  const settings = Object.values(response)[0]?.settings?.index;
  return { shards: Number(settings?.number_of_shards), replicas: Number(settings?.number_of_replicas) };
}

/** Sets the replicas of a live index (a dynamic setting: Elasticsearch copies or drops shard copies in the background). */
export async function setReplicas(es: Client, index: string, replicas: number): Promise<void> {
  await es.indices.putSettings({ index, settings: { index: { number_of_replicas: replicas } } });
}

/** How long a migration waits for the new version's replicas before it swaps the alias anyway. */
export const REPLICA_WAIT_MS = 5 * 60_000;

/**
 * Waits until every replica of `index` is allocated and started (the index is green), so that the alias moves to a
 * version with as many copies of each shard as the old one. Skipped, with a warning, when the cluster has too few data
 * nodes to ever hold them (a replica never shares a node with its primary): a single development node with
 * INDEX_REPLICAS=1 stays yellow. After `timeoutMs` it warns and returns: the version serves from its primaries, and
 * Elasticsearch keeps allocating the replicas. Returns whether the index is green.
 */
export async function waitForReplicas(es: Client, index: string, replicas: number, logger: Logger, timeoutMs = REPLICA_WAIT_MS): Promise<boolean> {
  if (replicas === 0) return true;
  const { number_of_data_nodes: dataNodes } = await es.cluster.health();
  if (dataNodes < replicas + 1) {
    logger.warn({ index, replicas, dataNodes }, `the cluster has ${dataNodes} data node(s): ${replicas} replica(s) per shard cannot be allocated, the index stays yellow`);
    return false;
  }
  const health = await es.cluster.health(
    { index, wait_for_status: 'green', timeout: `${Math.ceil(timeoutMs / 1000)}s` },
    // 408 is how Elasticsearch answers a health wait that timed out.
    { requestTimeout: timeoutMs + 30_000, maxRetries: 0, ignore: [408] },
  );
  if (health.timed_out) {
    logger.warn({ index, replicas, status: health.status, unassigned: health.unassigned_shards }, 'replicas not all started in time; continuing, Elasticsearch keeps allocating them');
    return false;
  }
  return true;
}
