import { Client, errors } from '@elastic/elasticsearch';
import type { Config } from '../config';
import { DependencyUnavailableError, StartupError } from '../errors';

export type { Client as ElasticsearchClient };

/**
 * The process's one Elasticsearch client (create once, reuse: it pools connections). Request bodies are gzipped when
 * ES_COMPRESSION is on; retries cover connection errors and 502/503/504 with the client's own backoff.
 *
 * With several nodes in ES_URL the client spreads requests over all of them, and a request that meets a dead node
 * (connection refused or reset) is retried on another at once, while that node is left out until it answers again.
 * No sniffing: the addresses a cluster publishes can be unreachable from here (containers, NAT), the ones given are not.
 */
export function createElasticsearchClient(config: Config['elasticsearch']): Client {
  return new Client({
    nodes: config.nodes,
    ...(config.auth ? { auth: config.auth } : {}),
    requestTimeout: config.requestTimeoutMs,
    maxRetries: config.maxRetries,
    compression: config.compression,
    name: 'lookalike',
  });
}

/** One search of an `msearch` that failed while the others answered, with the status Elasticsearch gave it. */
export class MsearchItemError extends Error {
  constructor(
    readonly statusCode: number,
    detail: unknown,
  ) {
    super(`msearch item failed (${statusCode}): ${JSON.stringify(detail).slice(0, 500)}`);
    this.name = 'MsearchItemError';
  }
}

/** True for errors that mean "Elasticsearch could not be reached or is overloaded": retry later. */
export function isTransientElasticsearchError(error: unknown): boolean {
  if (error instanceof errors.ConnectionError || error instanceof errors.TimeoutError || error instanceof errors.NoLivingConnectionsError) {
    return true;
  }
  if (error instanceof errors.ResponseError || error instanceof MsearchItemError) {
    const status = error.statusCode ?? 0;
    return status === 429 || status >= 500;
  }
  return false;
}

/**
 * A search's Elasticsearch failure as the client should see it: unreachable, timed out or overloaded (no shard copy
 * available while a node is down, a full search queue) is a 503 `search_unavailable` with Retry-After; anything else
 * (a query Elasticsearch rejects is a bug) passes through as it is, a 500.
 */
export function searchFailure(error: unknown): unknown {
  if (!isTransientElasticsearchError(error)) return error;
  const reason = error instanceof errors.ResponseError || error instanceof MsearchItemError ? `HTTP ${error.statusCode}` : (error as Error).name;
  return new DependencyUnavailableError('search_unavailable', `the catalog cannot be searched right now (Elasticsearch: ${reason}); retry shortly`, error, 1);
}

/**
 * Readiness: `_cluster/health` (the test distribution answers `GET /` with 405, so `client.info()` cannot be used).
 * Throws DependencyUnavailableError when the cluster is unreachable or red.
 */
export async function checkElasticsearch(es: Client, url: string, timeoutMs = 5_000): Promise<{ status: string }> {
  try {
    const health = await es.cluster.health({ timeout: `${Math.ceil(timeoutMs / 1000)}s` }, { requestTimeout: timeoutMs, maxRetries: 0 });
    if (health.status === 'red') {
      throw new DependencyUnavailableError('elasticsearch_unavailable', `Elasticsearch at ${url} is red`);
    }
    return { status: health.status };
  } catch (error) {
    if (error instanceof DependencyUnavailableError) throw error;
    const reason = error instanceof errors.ResponseError ? `HTTP ${error.statusCode}` : (error as Error).message;
    throw new DependencyUnavailableError('elasticsearch_unavailable', `Elasticsearch at ${url} is unreachable (${reason})`, error);
  }
}

/** Waits for the cluster at start-up; a StartupError naming the URL when it never answers. */
export async function waitForElasticsearch(es: Client, url: string, deadlineMs = 30_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      await checkElasticsearch(es, url, Math.min(5_000, deadlineMs));
      return;
    } catch (error) {
      if (Date.now() >= until) {
        throw new StartupError('elasticsearch_unreachable', (error as Error).message, error);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** Whether the cluster runs painless scripts (the official image does; the test distribution has no such module). */
export async function probePainless(es: Client): Promise<boolean> {
  try {
    await es.scriptsPainlessExecute({ script: { source: '1' } });
    return true;
  } catch {
    return false;
  }
}
