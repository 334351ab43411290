import type { Client } from '@elastic/elasticsearch';
import type { Config } from './config';
import { createLogger, type Logger } from './logger';
import { createRedisConnection, type Redis, type RedisRole } from './redis';
import { createElasticsearchClient } from './search/elasticsearch';
import { IndexManager } from './search/index-manager';
import { StatusStore } from './status-store';

/**
 * Everything a process needs, built once: one logger, one Elasticsearch client, one Redis connection for its role,
 * the index manager, the product status store. No DI container: processes and tests call `createDeps(config)` and pass the result down.
 */
export interface Deps {
  config: Config;
  logger: Logger;
  es: Client;
  redis: Redis;
  indexManager: IndexManager;
  status: StatusStore;
  close(): Promise<void>;
}

export function createDeps(config: Config, options: { role?: RedisRole; logger?: Logger } = {}): Deps {
  const logger = options.logger ?? createLogger(config);
  const es = createElasticsearchClient(config.elasticsearch);
  const redis = createRedisConnection(config.redis, options.role ?? 'producer');
  const indexManager = new IndexManager(es, config.index, logger.child({ component: 'index-manager' }));
  return {
    config,
    logger,
    es,
    redis,
    indexManager,
    status: new StatusStore(redis, config.redis.queuePrefix),
    async close() {
      redis.disconnect();
      await es.close();
    },
  };
}
