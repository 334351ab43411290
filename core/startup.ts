import type { Config } from './config';
import { createDeps, type Deps } from './deps';
import { createEmbedder, type Embedder } from './embedding/embedder';
import { resolveManifests, vectorFieldSpecs } from './embedding/manifest';
import type { RedisRole } from './redis';
import { connectRedis } from './redis';
import { waitForElasticsearch } from './search/elasticsearch';

/**
 * What both processes do before serving: reach Elasticsearch and Redis, load the models (each checked against its
 * manifest; `quantized`: their int8 copies too), and make sure the catalog index exists and agrees with the models.
 * Any failure is a StartupError, which runMain prints as one line.
 */
export async function startCore(config: Config, role: RedisRole, options: { quantized?: boolean } = {}): Promise<{ deps: Deps; embedder: Embedder }> {
  const deps = createDeps(config, { role });
  await waitForElasticsearch(deps.es, config.elasticsearch.url);
  await connectRedis(deps.redis, config.redis);
  const embedder = await createEmbedder(config, deps.logger, config.models.ids, options);
  await deps.indexManager.ensure(vectorFieldSpecs(config, resolveManifests(config.models.ids, config.models.dir)));
  return { deps, embedder };
}
