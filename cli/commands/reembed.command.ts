import { loadConfig } from '../../core/config';
import { createDeps } from '../../core/deps';
import { createEmbedder } from '../../core/embedding/embedder';
import { resolveManifests, vectorFieldSpecs } from '../../core/embedding/manifest';
import { ValidationError } from '../../core/errors';
import { hashImage } from '../../core/image/decode';
import { JOBS, createReembedQueue, reembedJobId } from '../../core/jobs';
import { createLogger } from '../../core/logger';
import { createImageFetcher } from '../../core/net/image-fetcher';
import { createProgress } from '../../core/progress';
import { connectRedis } from '../../core/redis';
import { compareMapping } from '../../core/search/catalog-mapping';
import { waitForElasticsearch } from '../../core/search/elasticsearch';
import { encodeRegions } from '../../core/rerank/regions';
import { embeddingMetadata, photoLacksRegions, type PhotoDocument } from '../../core/search/photos';
import type { CatalogDocument } from '../../core/search/index-manager';

export const reembedUsage = 'lookalike reembed --model <id> [--new-index]   (re)compute one model\'s vectors for the whole catalog';

/**
 * `lookalike reembed --model <id>` (the model must be in MODELS):
 * - when the index can hold the model's vectors (its field is absent, or has the same dims), the field is added if
 *   needed and one `reembed` job per product whose vector is missing or from another model version (or that lacks the
 *   model's region descriptors, for a model with `regions`) is enqueued; the
 *   indexers work them in the background and search keeps answering with the old vectors meanwhile;
 * - when the dims changed (or with --new-index), a new index version is built: every document is copied with this
 *   model's vector recomputed here, then the alias is swapped; search answers from the old version until then.
 */
export async function reembedCommand(args: string[]): Promise<number> {
  let modelId: string | undefined;
  let newIndex = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--model') modelId = args[++i];
    else if (args[i]?.startsWith('--model=')) modelId = args[i]!.slice(8);
    else if (args[i] === '--new-index') newIndex = true;
    else throw new ValidationError(`unexpected argument ${args[i]}\n${reembedUsage}`, { code: 'usage' });
  }
  if (!modelId) throw new ValidationError(`--model is required\n${reembedUsage}`, { code: 'usage' });
  const config = loadConfig(process.env);
  if (!config.models.ids.includes(modelId)) throw new ValidationError(`model ${modelId} is not in MODELS (${config.models.ids.join(', ')}); add it there first`, { code: 'unknown_model' });
  const deps = createDeps(config, { role: 'worker', logger: createLogger(config, 'lookalike', 2) });
  try {
    await waitForElasticsearch(deps.es, config.elasticsearch.url, 10_000);
    await connectRedis(deps.redis, config.redis);
    const manifests = resolveManifests(config.models.ids, config.models.dir);
    const specs = vectorFieldSpecs(config, manifests);
    const manifest = manifests.find((m) => m.id === modelId)!;
    const current = await deps.indexManager.currentIndex();
    if (!current) throw new ValidationError(`the index ${config.index.alias} does not exist yet; nothing to re-embed`, { code: 'index_missing' });
    const live = Object.values(await deps.es.indices.getMapping({ index: current }))[0]!.mappings as Record<string, unknown>;
    const check = compareMapping(live, specs.filter((s) => s.modelId === modelId));
    const dimsChanged = check.problems.length > 0;
    if (!dimsChanged && !newIndex) {
      if (check.missingModels.length > 0) await deps.indexManager.addModel(check.missingModels[0]!, current);
      const queue = createReembedQueue(modelId, deps.redis, config);
      const progress = createProgress(`reembed ${modelId}: enqueue`);
      let enqueued = 0;
      let scanned = 0;
      const live = { bool: { must_not: { term: { deleted: true } } } };
      const total = (await deps.es.count({ index: current, query: live })).count;
      try {
        // photos.url: a photo without this model's metadata would otherwise come back as nothing at all.
        const SCAN_FIELDS = ['photos.url', 'photos.error', `photos.embeddings.${modelId}`, `photos.regions.${modelId}`];
        await deps.indexManager.scan(current, live, 1000, async (hits) => {
          // A photo of another version, or one embedded before region descriptors were stored (a model with `regions`):
          // the second kind gets a job id of its own, so a re-embed to this version done earlier does not stand for it.
          const photosOf = (hit: (typeof hits)[number]) => ((hit._source.photos as PhotoDocument[] | undefined) ?? []).filter((photo) => photo.error === undefined);
          const outdated = (hit: (typeof hits)[number]) => photosOf(hit).some((photo) => photo.embeddings?.[modelId]?.model_version !== manifest.version);
          const stale = hits.filter((hit) => outdated(hit) || photosOf(hit).some((photo) => photoLacksRegions(photo, { id: modelId, manifest })));
          if (stale.length > 0) {
            await queue.addBulk(stale.map((hit) => ({
              name: JOBS.reembed,
              data: { productId: hit._id, model: modelId, modelVersion: manifest.version, requestedAt: Date.now() },
              opts: { jobId: reembedJobId(hit._id, modelId, outdated(hit) ? manifest.version : `${manifest.version} regions`) },
            })));
          }
          enqueued += stale.length;
          scanned += hits.length;
          progress.update(scanned, total, `${enqueued} enqueued`);
        }, SCAN_FIELDS);
      } finally {
        await queue.close();
      }
      progress.done(`${enqueued} enqueued`);
      console.log(JSON.stringify({ model: modelId, version: manifest.version, mode: 'in_place', scanned, enqueued }));
      return 0;
    }
    // A new index version, with this model's vectors computed here on the way.
    const embedder = await createEmbedder(config, deps.logger, [modelId]);
    const fetcher = createImageFetcher(config, 'catalog');
    const progress = createProgress(`reembed ${modelId}: new index`);
    let failed = 0;
    try {
      const result = await deps.indexManager.migrate({
        models: specs,
        batchSize: 64,
        onProgress: (done, total) => progress.update(done, total, failed ? `${failed} photos without an image` : ''),
        transform: async (documents) => {
          // Every photo of every live product, fetched again and embedded by this model; the others' vectors stay.
          const out = documents.map(({ source }) => structuredClone(source) as CatalogDocument & { photos?: PhotoDocument[] });
          const photos = out.flatMap((doc) => (doc.deleted === true ? [] : (doc.photos ?? []).filter((photo) => photo.error === undefined)));
          const images = await Promise.all(photos.map((photo) =>
            fetcher.fetch(photo.url).then(
              (f) => f.bytes,
              (error: unknown) => {
                deps.logger.warn({ url: photo.url, reason: (error as Error).message }, 'reembed: image unavailable, the photo keeps no vector for this model');
                return null;
              },
            ),
          ));
          const present = images.flatMap((bytes, i) => (bytes ? [{ i, bytes }] : []));
          const outcomes = await embedder.embedMany(present.map((p) => p.bytes), { regions: true });
          for (const photo of photos) {
            if (photo.vectors) delete photo.vectors[modelId];
            if (photo.regions) delete photo.regions[modelId];
            delete photo.embeddings[modelId];
          }
          present.forEach(({ i, bytes }, k) => {
            const outcome = outcomes[k]!;
            if (!outcome.ok) return void failed++;
            const photo = photos[i]!;
            photo.vectors = { ...photo.vectors, [modelId]: Array.from(outcome.image.embeddings[0]!.vector) };
            photo.embeddings = { ...photo.embeddings, [modelId]: embeddingMetadata(manifest, hashImage(bytes)) };
            const { regions } = outcome.image.embeddings[0]!;
            if (regions) photo.regions = { ...photo.regions, [modelId]: encodeRegions(regions) };
          });
          failed += images.filter((bytes) => !bytes).length;
          return out;
        },
      });
      progress.done();
      console.log(JSON.stringify({ model: modelId, version: manifest.version, mode: 'new_index', ...result, without_vector: failed }));
    } finally {
      await embedder.close();
    }
    return 0;
  } finally {
    await deps.close();
  }
}
