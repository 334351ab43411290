/**
 * Finding the product in a cluttered photo: localisation methods compared on the in-scene dev set (real object photos
 * composited into real background photos, benchmarks/lib/scenes.ts) and on the plain-background dev set, with exact
 * hybrid (0.6 / 0.4) search in memory, as the service ranks.
 *
 * Reports per method: recall@1/@5 of the product on single-object scenes, crop IoU with its true box, multi-object
 * recall (each placed product is the first result of one returned region), candidate regions per query; latency per
 * stage on this machine; recall@1 on the plain dev set for the methods that do not need the truth.
 *
 * usage: npm run bench:localization -- [--single 200] [--multi 100] [--seed 11] [--methods REGEX] [--plain 1] [--extra 1]
 *        [--plain-methods REGEX] [--latency 40]
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../core/config';
import { createEmbedder } from '../core/embedding/embedder';
import { findCrop } from '../core/image/autocrop';
import { decodeImage } from '../core/image/decode';
import { createLogger } from '../core/logger';
import { buildDevSet, type DevSet } from './lib/devset';
import { embedAll } from './lib/embed';
import { FeatureMapModel } from './lib/feature-map';
import { evaluate, RegionCache, type EvalQuery, type MethodResult } from './lib/localization-eval';
import { methods, PLAIN_DEFAULT } from './lib/localization-catalog';
import { ProposalSources, sourceMethods } from './lib/localization-sources';
import { rescale } from './lib/localize';
import { measureLatency } from './lib/localization-latency';
import { COLOUR, SEMANTIC, type CatalogIndex } from './lib/region-search';
import { fixed, writeResult } from './lib/report';
import { buildSceneDevSet } from './lib/scenes';
import { nearDuplicates } from './lib/near-duplicates';

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1]! : fallback;
}

const CACHE = path.resolve(__dirname, '..', '.cache');

async function main(): Promise<void> {
  const single = Number(argument('single', '200'));
  const multi = Number(argument('multi', '100'));
  const seed = Number(argument('seed', '11'));
  const methodFilter = new RegExp(argument('methods', '.'));
  const plain = argument('plain', '1') === '1';
  const extra = argument('extra', '1') === '1';
  const plainFilter = new RegExp(argument('plain-methods', PLAIN_DEFAULT));
  const latencyQueries = Number(argument('latency', '40'));
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn', MODELS: `${SEMANTIC},${COLOUR}` });
  const logger = createLogger(config);
  const embedder = await createEmbedder(config, logger);
  const sources = new ProposalSources(config, logger);
  const maps = await FeatureMapModel.load(config.onnx, createLogger(config));
  const scenes = await buildSceneDevSet(path.join(CACHE, 'scenes'), { single, multi, seed });
  // The plain dev set's catalog (openclipart drawings on white) also serves as 1062 extra catalog items for the
  // scenes, so that a background region has many wrong products to match, as in a real catalog.
  const plainSet: DevSet = plain || extra ? await buildDevSet(path.join(CACHE, 'devset'), { perCategory: 100, queryItems: 300, seed: 7 }) : { directory: '', catalog: [], queries: [] };
  const dims = Object.fromEntries(embedder.models.map((m) => [m.id, m.dims]));
  const sceneCatalog = await embedAll(embedder, scenes.catalog.map((c) => c.photo), 'auto', 'scene catalog');
  const plainCatalog = await embedAll(embedder, plainSet.catalog.map((c) => c.photo), 'auto', 'plain catalog');
  const extraCatalog = extra ? plainCatalog : { [SEMANTIC]: new Float32Array(0), [COLOUR]: new Float32Array(0) };
  const join = (a: Float32Array, b: Float32Array): Float32Array => {
    const out = new Float32Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  };
  const index: CatalogIndex = {
    ids: [...scenes.catalog.map((c) => c.id), ...(extra ? plainSet.catalog.map((c) => c.id) : [])],
    semantic: join(sceneCatalog[SEMANTIC]!, extraCatalog[SEMANTIC]!),
    colour: join(sceneCatalog[COLOUR]!, extraCatalog[COLOUR]!),
    semanticDims: dims[SEMANTIC]!,
    colourDims: dims[COLOUR]!,
  };
  const duplicates = nearDuplicates(index, scenes.catalog.length, 0.9);
  const position = new Map(index.ids.map((id, i) => [id, i]));
  const limits = { maxBytes: config.image.maxBytes, maxPixels: config.image.maxPixels, workingSize: config.image.workingSize };
  const queries: EvalQuery[] = [];
  for (const q of scenes.queries) {
    const image = await decodeImage(fs.readFileSync(q.photo), limits);
    const products = q.objects.filter((o) => o.role === 'product');
    queries.push({
      id: q.id,
      kind: q.kind,
      image,
      maps: new Map(),
      products: products.map((o) => rescale(o.box, q, image)),
      targets: products.map((o) => position.get(o.item)!),
      distractors: q.objects.filter((o) => o.role === 'distractor').map((o) => rescale(o.box, q, image)),
      attention: await findCrop(image, 'attention'),
    });
  }
  const cache = new RegionCache(embedder, index, path.join(scenes.directory, `regions-${extra ? 'extra' : 'plain'}.json`));
  const results: MethodResult[] = [];
  for (const method of [...methods(index), ...sourceMethods(index, sources)].filter((m) => methodFilter.test(m.name))) {
    results.push(await evaluate(method, queries, cache, maps));
    cache.save();
  }

  const plainResults: MethodResult[] = [];
  if (plain) {
    const plainIndex: CatalogIndex = { ids: plainSet.catalog.map((c) => c.id), semantic: plainCatalog[SEMANTIC]!, colour: plainCatalog[COLOUR]!, semanticDims: dims[SEMANTIC]!, colourDims: dims[COLOUR]! };
    const plainPosition = new Map(plainIndex.ids.map((id, i) => [id, i]));
    const plainQueries: EvalQuery[] = [];
    for (const q of plainSet.queries) {
      const image = await decodeImage(fs.readFileSync(q.photo), limits);
      const whole = { left: 0, top: 0, width: image.width, height: image.height };
      plainQueries.push({ id: path.basename(q.photo), kind: 'single', image, maps: new Map(), products: [whole], targets: [plainPosition.get(q.item)!], distractors: [], attention: await findCrop(image, 'attention') });
    }
    const plainCache = new RegionCache(embedder, plainIndex, path.join(plainSet.directory, 'regions.json'));
    for (const method of [...methods(plainIndex), ...sourceMethods(plainIndex, sources)].filter((m) => plainFilter.test(m.name) && methodFilter.test(m.name))) {
      plainResults.push(await evaluate(method, plainQueries, plainCache, maps));
      plainCache.save();
    }
  }
  const latency = await measureLatency(embedder, maps, scenes.queries.slice(0, latencyQueries).map((q) => q.photo), limits);
  const sourceLatency = sources.latency();
  await sources.close();
  await maps.close();
  await embedder.close();

  const command = `npm run bench:localization -- --single ${single} --multi ${multi} --seed ${seed}${argument('methods', '') ? ` --methods '${argument('methods', '')}'` : ''}`;
  const row = (r: MethodResult): string =>
    `| ${r.method} | ${fixed(r.recall_at_1)} | ${fixed(r.recall_at_5)} | ${fixed(r.crop_iou, 2)} | ${fixed(r.proposal_recall, 2)} | ${fixed(r.oracle_recall_at_1, 2)} | ${fixed(r.on_product, 2)} / ${fixed(r.on_distractor, 2)} | ${fixed(r.object_recall)} | ${fixed(r.all_found, 2)} | ${r.candidates_per_query.toFixed(1)} | ${r.embedded_per_query.toFixed(1)} | ${r.returned_per_query.toFixed(1)} |`;
  const markdown = `# Localisation on the in-scene dev set

${scenes.catalog.length} catalog products (tuxpaint photos on white) + ${extra ? plainSet.catalog.length : 0} openclipart drawings as extra catalog items;
${single} single-object scenes (the product beside a distractor that is not in the catalog), ${multi} multi-object scenes (2–3
products). Near-duplicate pairs among the scene catalog (hybrid similarity ≥ 0.9): ${duplicates.length}.

| method | recall@1 | recall@5 | crop IoU | proposals cover (IoU ≥ 0.5) | best region @1 | primary on product / on distractor | multi-object recall | all found | regions considered / query | embedded / query | returned / query |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${results.map(row).join('\n')}

Plain-background dev set (${plainSet.catalog.length} catalog, ${plainSet.queries.length} queries; today: hybrid recall@1 0.978):

| method | recall@1 | recall@5 | crop IoU | | | | | | regions considered / query | embedded / query | |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${plainResults.map(row).join('\n')}

Latency per stage (ms per query, ${latency.queries} scene queries one at a time; median / p95):

| stage | median | p95 |
| --- | --- | --- |
${Object.entries(latency.stages).map(([stage, s]) => `| ${stage} | ${s.median.toFixed(1)} | ${s.p95.toFixed(1)} |`).join('\n')}

Proposal sources, timed on every query they ran on during the evaluation (ms; median / p95):

| stage | queries | median | p95 |
| --- | --- | --- | --- |
${Object.entries(sourceLatency).map(([stage, s]) => `| ${stage} | ${s.queries} | ${s.median.toFixed(1)} | ${s.p95.toFixed(1)} |`).join('\n')}
`;
  writeResult('localization', command, { devset: { catalog: scenes.catalog.length, extra_catalog: plainSet.catalog.length, distractors: scenes.distractors.length, single, multi, seed }, near_duplicates: duplicates, results, plain: plainResults, latency, proposal_source_latency: sourceLatency }, markdown);
  process.stdout.write(markdown);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
