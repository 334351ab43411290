import { loadConfig } from '../../core/config';
import { createDeps } from '../../core/deps';
import { createLogger } from '../../core/logger';
import { resolveManifests, vectorFieldSpecs } from '../../core/embedding/manifest';
import { waitForElasticsearch } from '../../core/search/elasticsearch';
import { readLayout } from '../../core/search/index-layout';
import { ValidationError } from '../../core/errors';
import { createProgress } from '../../core/progress';

export const indexUsage = `lookalike index ensure     create the catalog index or check it against the configured models; set INDEX_REPLICAS on it
lookalike index status     print the alias, its index version, the document count, shards, replicas and health
lookalike index migrate    build the next index version (INDEX_SHARDS, INDEX_REPLICAS), copy every document, swap the alias`;

/** `lookalike index <verb>`: operate the catalog index through the index manager. */
export async function indexCommand(args: string[]): Promise<number> {
  const verb = args[0];
  if (verb !== 'ensure' && verb !== 'status' && verb !== 'migrate') {
    throw new ValidationError(`unknown verb "${verb ?? ''}"; usage:\n${indexUsage}`, { code: 'usage' });
  }
  const config = loadConfig(process.env);
  const deps = createDeps(config, { logger: createLogger(config, 'lookalike', 2) });
  try {
    await waitForElasticsearch(deps.es, config.elasticsearch.url, 10_000);
    const models = vectorFieldSpecs(config, resolveManifests(config.models.ids, config.models.dir));
    if (verb === 'ensure') {
      const result = await deps.indexManager.ensure(models);
      // Replicas change on a live index; another number of shards takes `index migrate`, which a warning names.
      const { after } = await deps.indexManager.applyReplicas();
      console.log(JSON.stringify({ alias: deps.indexManager.alias, ...result, ...after }));
    } else if (verb === 'status') {
      const index = await deps.indexManager.currentIndex();
      const count = index ? (await deps.es.count({ index })).count : 0;
      const layout = index ? { ...(await readLayout(deps.es, index)), health: (await deps.es.cluster.health({ index })).status } : {};
      console.log(JSON.stringify({ alias: deps.indexManager.alias, index, documents: count, versions: await deps.indexManager.versions(), ...layout }));
    } else {
      await deps.indexManager.ensure(models);
      const progress = createProgress('copying');
      const result = await deps.indexManager.migrate({ models, onProgress: (done, total) => progress.update(done, total) });
      progress.done();
      console.log(JSON.stringify(result));
    }
    return 0;
  } finally {
    await deps.close();
  }
}
