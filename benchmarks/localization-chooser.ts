/**
 * How localization should choose among its candidate regions (issue 11), measured offline on the scene dev set's
 * single-product photos (benchmarks/lib/scenes.ts, seed 11) against the scene-search catalog (its 208 products plus
 * the plain dev set's 1062 catalog photos), with the service's own localizer (core/localization/localizer.ts: the
 * same candidates as the API) and models. Every candidate is embedded by both models and searched exactly in memory,
 * so each way of choosing is scored on the same answers:
 * - `choose` (the service's) with the region scored by its first cosine plus `gapWeight` × its lead over the second,
 *   for several weights (0: the first score alone, as before);
 * - plus γ × the region descriptors' similarity (core/rerank/regions.ts, the precision stage's, read from the photo's
 *   448 px map) of the region to its first result's catalog photo;
 * - a linear chooser learned over features of every region (logistic, trained on one half of the photos and scored
 *   on the other, both ways);
 * - embedding only the best few candidates, pre-ranked by vectors pooled from the photo's map (no model run);
 * - the service's chooser over the first N candidates: what a cap on the regions (LOCALIZE_PRIMARY_REGIONS) keeps
 *   (the candidates come in the localizer's order, so a cap keeps a prefix of them), after the floor on their size
 *   (LocalizerSettings.minRegionArea, which the rows apply themselves: the bench proposes every candidate);
 * - the service's whole choice with and without that floor on the scenes, the plain photos without a trim and the
 *   hard-negative dev set's queries (benchmarks/lib/hard-negatives.ts: one large item whose parts are other products).
 * A photo counts as found when the chosen region's first hybrid result is the product, as the API answers it.
 * The API's own figures for the chosen setting: `npm run bench:scene-search`.
 *
 * Every candidate up to LOCALIZE_MAX_REGIONS is proposed (the primary cap lifted to it), so the rows below see the
 * uncapped list; results of a seed other than 11 are written apart (localization-chooser-seed<N>).
 *
 * - scoring the regions with the main model at a smaller input size (`--score-sizes`; the model takes any size),
 *   alone or as a cascade (the best few scored again at the model's own size), with the run's cost a region per size;
 * - scoring the regions with the main model's int8 copy (its manifest's `quantized`: LOCALIZE_SCORER=int8, the
 *   service's default), the reference asked whole by the model itself, as the service does.
 * - the objectness head's boxes among a photo query's candidates (LOCALIZE_OBJECTNESS=always, the default: the answers
 *   are kept apart from a run without them) and the rule that a part gives way to a larger region holding it
 *   (LocalizerSettings.containerScore), on the scenes, the plain photos without a trim and the hard negatives.
 * - a region's lead taken over the first of its next results that is not a near-duplicate of the first result (by the
 *   catalog vectors of the main model), on the same three sets.
 * `--reuse` scores the ways of choosing again on the answers a run kept (.cache/localization-chooser/), and measures
 * only what it lacks. `--score-sizes ''` measures no smaller size (the int8 copy still).
 *
 * usage: npm run bench:localization-chooser -- [--single 600] [--seed 11] [--score-sizes 192,160,128] [--name N] [--reuse]
 * (LOCALIZE_MAP=float|int8 in the environment: which copy of the localizer computes the maps the candidates come from)
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../core/config';
import { createEmbedder } from '../core/embedding/embedder';
import { quantizedManifest } from '../core/embedding/manifest';
import { EmbeddingModel } from '../core/embedding/onnx-model';
import { modelView, resizeForModel, writeTensor } from '../core/image/preprocess';
import { createLogger } from '../core/logger';
import { trimBox, type CropBox } from '../core/image/autocrop';
import type { DecodedImage } from '../core/image/decode';
import { choose, createLocalizer, DEFAULT_LOCALIZER_SETTINGS, Localizer, regionScore, type Candidate, type RegionAnswer } from '../core/localization/localizer';
import { cosineOf, distinctSecond } from '../core/localization/near-duplicates';
import { iou } from '../core/localization/regions';
import { createProgress } from '../core/progress';
import { decodeRegions, describeFeatureMap, encodeRegions, featureMapInBox, regionSimilarity } from '../core/rerank/regions';
import { buildDevSet } from './lib/devset';
import { row } from './lib/embed';
import { pooledVector } from './lib/localization-eval';
import { COLOUR, SEMANTIC, SEMANTIC_WEIGHT } from './lib/region-search';
import { fixed, writeResult } from './lib/report';
import { buildHardNegativeDevSet } from './lib/hard-negatives';
import { buildSceneDevSet } from './lib/scenes';
import { cachedEmbeddings } from './lib/vector-cache';

const root = path.resolve(__dirname, '..');
const CACHE = path.join(root, '.cache');

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1]! : fallback;
}
const single = Number(argument('single', '600'));
/** Smaller input sizes of the main model that score the regions (the chosen one is searched at the model's own). */
const scoreSizes = argument('score-sizes', '192,160,128').split(',').filter(Boolean).map(Number);
/** Reuse the answers a run measured (kept under .cache/localization-chooser/) and only score the ways of choosing. */
const reuse = process.argv.includes('--reuse');
const seed = Number(argument('seed', '11'));
/** Where the results go (benchmarks/results/<name>.md); the localizer's map copy is LOCALIZE_MAP's, from the environment. */
const name = argument('name', seed === 11 ? 'localization-chooser' : `localization-chooser-seed${seed}`);
const mapCopy = loadConfig(process.env).image.localizeMap;
/** Whether a photo query's candidates include the objectness head's boxes (LOCALIZE_OBJECTNESS, the service's default). */
const headBoxes = loadConfig(process.env).image.localizeObjectness === 'always';
/** bench:rerank's hard-negative dev set (its defaults). */
const HARD_NEGATIVES = { objects: 300, closeups: 2, seed: 13 };

/** One result of a region: catalog item index, score, region similarity of the region to that item's photo. */
type Result = [item: number, score: number, region: number];

interface Region {
  candidate: Candidate;
  /** IoU with the product's true box. */
  iou: number;
  /** Semantic (main model) and hybrid results, best 5. */
  semantic: Result[];
  hybrid: Result[];
  /** Results of the vector pooled from the photo's map (semantic), best 2. */
  pooled: Result[];
  /** Semantic results, best 2, of the region embedded at a smaller input size (by size) or by the int8 copy (`int8`). */
  smaller: Record<string, Result[]>;
}

/** Milliseconds of the main model's run a region (its batch of a photo's candidates), by input size, and of its int8 copy. */
type RunCost = Record<string, { ms: number; regions: number }>;

interface Photo {
  /**
   * A scene photo (the product beside another thing), a plain dev-set photo without a trim (a close crop, mostly), or
   * a hard-negative query (one large item whose close-ups are other products).
   */
  kind: 'scene' | 'plain' | 'hard';
  product: number;
  width: number;
  height: number;
  regions: Region[];
}

const dot = (a: Float32Array, b: Float32Array): number => {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
};

function best(scores: Float32Array, k: number): number[] {
  const order: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    if (order.length === k && scores[i]! <= scores[order[k - 1]!]!) continue;
    order.push(i);
    order.sort((a, b) => scores[b]! - scores[a]!);
    if (order.length > k) order.pop();
  }
  return order;
}

/** The models and the localizer every photo is measured with. */
async function loadTools() {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn' });
  // Every candidate a photo may get: the primary cap lifted to the objects' (the cap rows take prefixes of them).
  config.image.localizePrimaryRegions = config.image.localizeMaxRegions;
  const logger = createLogger(config);
  const embedder = await createEmbedder(config, logger);
  // Every candidate, the small ones too: the rows apply the service's floor (LocalizerSettings.minRegionArea) themselves.
  const loaded = await createLocalizer(config, logger);
  const localizer = new Localizer(loaded.featureMap, loaded.detector, { ...loaded.settings, minRegionArea: 0 }, loaded.objectness);
  const base = embedder.get(SEMANTIC)!.manifest;
  // The model takes any input size (models/add_feature_map_output.py): the same file, one shared session, other sizes.
  const sizedModels = await Promise.all([base.input.width, ...scoreSizes].map((size) => EmbeddingModel.load({ ...base, input: { ...base.input, width: size, height: size, ...(base.input.resizeShortSide ? { resizeShortSide: Math.round((base.input.resizeShortSide * size) / base.input.width) } : {}) } }, config.onnx, logger)));
  // The int8 copy (the service's scorer), timed and scored like the sizes: keyed `int8`.
  const int8 = quantizedManifest(base);
  if (!int8) throw new Error(`${base.id} has no int8 copy (manifest \`quantized\`)`);
  const scorers = [...sizedModels.map((model) => ({ key: String(model.manifest.input.width), model })), { key: 'int8', model: await EmbeddingModel.load(int8, config.onnx, logger) }];
  const close = () => Promise.all([embedder.close(), localizer.close(), ...scorers.map(({ model }) => model.close())]);
  return { embedder, localizer, scorers, close };
}
type Tools = Awaited<ReturnType<typeof loadTools>>;

/** Catalog photos embedded by both models, with their region descriptors, as the indexer would. */
async function embedCatalog(tools: Tools, files: string[], label: string) {
  const { embedder } = tools;
  const dims = { semantic: embedder.get(SEMANTIC)!.dims, colour: embedder.get(COLOUR)!.dims };
  const semantic = new Float32Array(files.length * dims.semantic);
  const colour = new Float32Array(files.length * dims.colour);
  const descriptors: ReturnType<typeof decodeRegions>[] = [];
  const progress = createProgress(label);
  for (let start = 0; start < files.length; start += 16) {
    const chunk = files.slice(start, start + 16);
    const outcomes = await embedder.embedMany(chunk.map((file) => fs.readFileSync(file)), { crop: 'auto', regions: true });
    outcomes.forEach((outcome, offset) => {
      if (!outcome.ok) throw new Error(`catalog photo ${start + offset}: ${outcome.error.code}`);
      for (const embedding of outcome.image.embeddings) {
        if (embedding.model === SEMANTIC) {
          semantic.set(embedding.vector, (start + offset) * dims.semantic);
          // Through the stored form, as the service compares them.
          descriptors.push(decodeRegions(encodeRegions(embedding.regions!)));
        } else if (embedding.model === COLOUR) colour.set(embedding.vector, (start + offset) * dims.colour);
      }
    });
    progress.update(Math.min(start + 16, files.length), files.length);
  }
  progress.done();
  return { size: files.length, dims, semantic, colour, descriptors };
}
type Catalog = Awaited<ReturnType<typeof embedCatalog>>;

/** A photo's candidates, each embedded (by the model, its smaller sizes and its int8 copy) and searched among `among` of the catalog (every item by default). */
async function measurePhoto(tools: Tools, catalog: Catalog, runCost: RunCost, kind: Photo['kind'], image: DecodedImage, product: number, truth: CropBox | null, among = (_item: number) => true): Promise<Photo> {
  const { embedder, localizer, scorers } = tools;
  const { dims, semantic, colour, descriptors } = catalog;
  const input = embedder.get(SEMANTIC)!.manifest.input;
  const side = Math.round(input.width / localizer.featureMap.manifest.stride);
  const proposal = await localizer.propose(image, false);
  const vectors = await embedder.embedRegions(image, proposal.candidates.map((candidate) => candidate.box));
  // Each size's run timed alone (one after another), its preprocessing apart.
  const smallVectors: Float32Array[][] = [];
  for (const { key, model } of scorers) {
    const batch = new Float32Array(proposal.candidates.length * model.inputSize);
    await Promise.all(proposal.candidates.map(async (candidate, slot) => writeTensor(await resizeForModel(image, candidate.box, model.manifest.input), model.manifest.input, batch, slot)));
    const started = performance.now();
    const outputs = await model.embedOutputs(batch, proposal.candidates.length);
    const cost = (runCost[key] ??= { ms: 0, regions: 0 });
    cost.ms += performance.now() - started;
    cost.regions += proposal.candidates.length;
    smallVectors.push(outputs.map((output) => output.vector));
  }
  smallVectors.shift();
  const whole = { left: 0, top: 0, width: image.width, height: image.height };
  const regions = proposal.candidates.map((candidate, r): Region => {
    const box = candidate.box ?? whole;
    const descriptor = proposal.map ? describeFeatureMap(featureMapInBox(proposal.map, image.width, image.height, modelView(box, input), side)) : null;
    const similarity = (item: number): number => (descriptor && descriptors[item] ? regionSimilarity(descriptor, descriptors[item]!) : 0);
    const semanticScores = new Float32Array(catalog.size);
    const hybridScores = new Float32Array(catalog.size);
    const pooledScores = new Float32Array(catalog.size);
    const pooled = proposal.map ? pooledVector(proposal.map, box, image) : null;
    for (let i = 0; i < catalog.size; i++) {
      if (!among(i)) {
        semanticScores[i] = hybridScores[i] = pooledScores[i] = -Infinity;
        continue;
      }
      semanticScores[i] = dot(vectors[r]![SEMANTIC]!, row(semantic, dims.semantic, i));
      hybridScores[i] = SEMANTIC_WEIGHT * semanticScores[i]! + (1 - SEMANTIC_WEIGHT) * dot(vectors[r]![COLOUR]!, row(colour, dims.colour, i));
      pooledScores[i] = pooled ? dot(pooled, row(semantic, dims.semantic, i)) : semanticScores[i]!;
    }
    const results = (scores: Float32Array, k: number): Result[] => best(scores, k).map((i) => [i, scores[i]!, similarity(i)]);
    const smaller: Record<string, Result[]> = {};
    [...scoreSizes.map(String), 'int8'].forEach((size, m) => {
      const scores = new Float32Array(catalog.size);
      for (let i = 0; i < catalog.size; i++) scores[i] = among(i) ? dot(smallVectors[m]![r]!, row(semantic, dims.semantic, i)) : -Infinity;
      smaller[size] = best(scores, 2).map((i) => [i, scores[i]!, 0]);
    });
    return { candidate, iou: truth ? iou(box, truth) : 0, semantic: results(semanticScores, 5), hybrid: results(hybridScores, 5), pooled: results(pooledScores, 2), smaller };
  });
  return { kind, product, width: image.width, height: image.height, regions };
}

/** The product's true box in the decoded image's pixels. */
function truthIn(image: DecodedImage, box: CropBox): CropBox {
  const sx = image.width / image.originalWidth;
  const sy = image.height / image.originalHeight;
  return { left: box.left * sx, top: box.top * sy, width: box.width * sx, height: box.height * sy };
}

async function measure(tools: Tools): Promise<{ photos: Photo[]; runCost: RunCost; plainQueries: number }> {
  const scenes = await buildSceneDevSet(path.join(CACHE, 'scenes'), { single, multi: 200, seed });
  const plain = await buildDevSet(path.join(CACHE, 'devset'), { perCategory: 100, queryItems: 300, seed: 7 });
  const ids = [...scenes.catalog.map((item) => item.id), ...plain.catalog.map((item) => `plain:${item.id}`)];
  const catalog = await embedCatalog(tools, [...scenes.catalog.map((item) => item.photo), ...plain.catalog.map((item) => item.photo)], 'catalog: embed');
  const queries = scenes.queries.filter((query) => query.kind === 'single');
  const photos: Photo[] = [];
  const runCost: RunCost = {};
  const scenesProgress = createProgress('scenes: localize, embed, search');
  for (const [n, query] of queries.entries()) {
    const image = await tools.embedder.decode(fs.readFileSync(query.photo));
    const product = query.objects.find((object) => object.role === 'product')!;
    photos.push(await measurePhoto(tools, catalog, runCost, 'scene', image, ids.indexOf(product.item), truthIn(image, product.box)));
    scenesProgress.update(n + 1, queries.length);
  }
  scenesProgress.done();
  // The plain dev set's photos that have no trim (localized too), searched among the plain catalog, as scene-search does.
  const plainProgress = createProgress('plain photos without a trim: localize, embed, search');
  const firstPlain = scenes.catalog.length;
  for (const [n, query] of plain.queries.entries()) {
    const image = await tools.embedder.decode(fs.readFileSync(query.photo));
    if (!trimBox(image)) photos.push(await measurePhoto(tools, catalog, runCost, 'plain', image, ids.indexOf(`plain:${query.item}`), null, (item) => item >= firstPlain));
    plainProgress.update(n + 1, plain.queries.length);
  }
  plainProgress.done();
  return { photos, runCost, plainQueries: plain.queries.length };
}

/**
 * The hard-negative dev set's queries (benchmarks/lib/hard-negatives.ts, bench:rerank's: one large whole item on a real
 * background) against its own catalog (each item, close-ups of its parts and its recolouring as other products).
 */
async function measureHardNegatives(tools: Tools): Promise<Photo[]> {
  const devset = await buildHardNegativeDevSet(path.join(CACHE, 'hard-negatives'), HARD_NEGATIVES);
  const catalog = await embedCatalog(tools, devset.catalog.map((item) => item.photo), 'hard negatives: catalog');
  const ids = devset.catalog.map((item) => item.id);
  const photos: Photo[] = [];
  const progress = createProgress('hard negatives: localize, embed, search');
  for (const [n, query] of devset.queries.entries()) {
    const image = await tools.embedder.decode(fs.readFileSync(query.photo));
    photos.push(await measurePhoto(tools, catalog, {}, 'hard', image, ids.indexOf(query.product), truthIn(image, query.box)));
    progress.update(n + 1, devset.queries.length);
  }
  progress.done();
  return photos;
}

/** A way of scoring a region for `choose` (its first result, and the score the chooser ranks by). */
type Scorer = (region: Region) => RegionAnswer;

/** Recall@1 over the photos (and over each half: even and odd photos) when `choose` ranks regions by `scorer`. */
function recall(photos: Photo[], scorer: Scorer, keep?: (photo: Photo) => number[], gapWeight = DEFAULT_LOCALIZER_SETTINGS.gapWeight): { all: number; halves: [number, number]; embedded: number } {
  let found = 0;
  let embedded = 0;
  const halves: [number, number] = [0, 0];
  photos.forEach((photo, n) => {
    const kept = keep ? keep(photo) : photo.regions.map((_, i) => i);
    embedded += kept.length;
    const regions = kept.map((i) => photo.regions[i]!);
    const choice = choose(regions.map((region) => region.candidate), regions.map(scorer), photo, { ...DEFAULT_LOCALIZER_SETTINGS, gapWeight }, 5);
    if (regions[choice.primary]!.hybrid[0]![0] === photo.product) {
      found++;
      halves[n % 2]!++;
    }
  });
  return { all: found / photos.length, halves: [halves[0] / Math.ceil(photos.length / 2), halves[1] / Math.floor(photos.length / 2)], embedded: embedded / photos.length };
}

/** Region features for the learned chooser. */
function features(photo: Photo): number[][] {
  const whole = { left: 0, top: 0, width: photo.width, height: photo.height };
  const maxFirst = Math.max(...photo.regions.map((region) => region.semantic[0]![1]));
  const maxRegion = Math.max(...photo.regions.map((region) => region.semantic[0]![2]));
  return photo.regions.map((region, i) => {
    const box = region.candidate.box ?? whole;
    const [first, second] = region.semantic;
    const [hybridFirst, hybridSecond] = region.hybrid;
    const same = photo.regions.filter((other, j) => j !== i && other.semantic[0]![0] === first![0]);
    return [
      first![1],
      first![1] - second![1],
      first![2],
      first![2] - second![2],
      hybridFirst![1],
      hybridFirst![1] - hybridSecond![1],
      hybridFirst![2],
      first![0] === hybridFirst![0] ? 1 : 0,
      same.length / photo.regions.length,
      same.reduce((sum, other) => sum + iou(other.candidate.box ?? whole, box), 0),
      (box.width * box.height) / (photo.width * photo.height),
      region.candidate.source === 'whole' ? 1 : 0,
      region.candidate.source === 'detector' ? 1 : 0,
      Math.abs(Math.log(box.width / box.height)),
      first![1] - maxFirst,
      first![2] - maxRegion,
      Math.hypot((box.left + box.width / 2) / photo.width - 0.5, (box.top + box.height / 2) / photo.height - 0.5),
    ];
  });
}

/** Logistic regression (standardised features, L2), a region labelled right when its first hybrid result is the product. */
function trainLogistic(rows: number[][], labels: number[]): (x: number[]) => number {
  const d = rows[0]!.length;
  const mean = Array.from({ length: d }, (_, k) => rows.reduce((sum, r) => sum + r[k]!, 0) / rows.length);
  const sd = Array.from({ length: d }, (_, k) => Math.sqrt(rows.reduce((sum, r) => sum + (r[k]! - mean[k]!) ** 2, 0) / rows.length) || 1);
  const z = rows.map((r) => [...r.map((v, k) => (v - mean[k]!) / sd[k]!), 1]);
  const w = new Array<number>(d + 1).fill(0);
  for (let epoch = 0; epoch < 400; epoch++) {
    const gradient = new Array<number>(d + 1).fill(0);
    z.forEach((x, n) => {
      const p = 1 / (1 + Math.exp(-x.reduce((sum, v, k) => sum + v * w[k]!, 0)));
      x.forEach((v, k) => (gradient[k]! += (p - labels[n]!) * v));
    });
    for (let k = 0; k <= d; k++) w[k]! -= (0.5 * gradient[k]!) / z.length + 0.001 * w[k]!;
  }
  return (x) => x.reduce((sum, v, k) => sum + ((v - mean[k]!) / sd[k]!) * w[k]!, w[d]!);
}

/** The learned chooser's recall@1, trained on one half of the photos and scored on the other, both ways. */
function learnedRecall(photos: Photo[]): number {
  const X = photos.map(features);
  const Y = photos.map((photo) => photo.regions.map((region) => (region.hybrid[0]![0] === photo.product ? 1 : 0)));
  let found = 0;
  for (const half of [0, 1]) {
    const train = photos.map((_, n) => n).filter((n) => n % 2 === half);
    const score = trainLogistic(
      train.flatMap((n) => X[n]!),
      train.flatMap((n) => Y[n]!),
    );
    for (let n = 1 - half; n < photos.length; n += 2) {
      const scores = X[n]!.map(score);
      if (Y[n]![scores.indexOf(Math.max(...scores))]) found++;
    }
  }
  return found / photos.length;
}

/**
 * The main model's vectors of the two catalogs the answers index (the scene catalog's products, then the plain dev
 * set's, as `measure` embeds them; the hard-negative catalog), cached under .cache/localization-chooser/vectors: what a
 * lead that passes over near-duplicates of the first result compares.
 */
async function catalogVectors(): Promise<{ scenes: Float32Array; hard: Float32Array; dims: number }> {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn' });
  const embedder = await createEmbedder(config, createLogger(config));
  try {
    const directory = path.join(CACHE, 'localization-chooser', 'vectors');
    fs.mkdirSync(directory, { recursive: true });
    const scenes = await buildSceneDevSet(path.join(CACHE, 'scenes'), { single, multi: 200, seed });
    const plain = await buildDevSet(path.join(CACHE, 'devset'), { perCategory: 100, queryItems: 300, seed: 7 });
    const hard = await buildHardNegativeDevSet(path.join(CACHE, 'hard-negatives'), HARD_NEGATIVES);
    const sceneVectors = await cachedEmbeddings(embedder, [...scenes.catalog.map((item) => item.photo), ...plain.catalog.map((item) => item.photo)], 'auto', directory, `scene-catalog-${seed}`);
    const hardVectors = await cachedEmbeddings(embedder, hard.catalog.map((item) => item.photo), 'auto', directory, 'hard-catalog');
    return { scenes: sceneVectors[SEMANTIC]!, hard: hardVectors[SEMANTIC]!, dims: embedder.get(SEMANTIC)!.dims };
  } finally {
    await embedder.close();
  }
}

/** Cosine of catalog items `a` and `b` (rows of `vectors`). */
function itemCosine(vectors: Float32Array, dims: number, a: number, b: number): number {
  return cosineOf(row(vectors, dims, a), row(vectors, dims, b));
}

async function main(): Promise<void> {
  const head = headBoxes ? '-head' : '';
  const kept = path.join(CACHE, 'localization-chooser', `answers-${single}-${seed}-${scoreSizes.join('-')}-map-${mapCopy}${head}.json`);
  const keptHard = path.join(CACHE, 'localization-chooser', `answers-hard-negatives-o${HARD_NEGATIVES.objects}-c${HARD_NEGATIVES.closeups}-seed${HARD_NEGATIVES.seed}-${scoreSizes.join('-')}-map-${mapCopy}${head}.json`);
  // --reuse keeps what a run measured and measures what it lacks.
  const tools = reuse && fs.existsSync(kept) && fs.existsSync(keptHard) ? null : await loadTools();
  const measured = reuse && fs.existsSync(kept) ? (JSON.parse(fs.readFileSync(kept, 'utf8')) as Awaited<ReturnType<typeof measure>>) : await measure(tools!);
  const hardPhotos = reuse && fs.existsSync(keptHard) ? (JSON.parse(fs.readFileSync(keptHard, 'utf8')) as Photo[]) : await measureHardNegatives(tools!);
  await tools?.close();
  fs.mkdirSync(path.dirname(kept), { recursive: true });
  fs.writeFileSync(kept, JSON.stringify(measured));
  fs.writeFileSync(keptHard, JSON.stringify(hardPhotos));
  const { runCost } = measured;
  const photos = measured.photos.filter((photo) => photo.kind === 'scene');
  const plainPhotos = measured.photos.filter((photo) => photo.kind === 'plain');
  const perRegion = (key: string | number): string => fixed(runCost[key]!.ms / runCost[key]!.regions, 1);
  const own = Math.max(...Object.keys(runCost).map(Number).filter(Number.isFinite));
  const first = (region: Region): Result => region.semantic[0]!;
  const lead = (region: Region): number => region.semantic[0]![1] - region.semantic[1]![1];
  const rows: Array<{ way: string; recall: number; halves: [number, number]; embedded: number }> = [];
  const add = (way: string, result: ReturnType<typeof recall>): void => void rows.push({ way, recall: result.all, halves: result.halves, embedded: result.embedded });
  const byService = (region: Region): RegionAnswer => ({ firstId: String(first(region)[0]), firstScore: first(region)[1], secondScore: region.semantic[1]![1] });
  for (const gapWeight of [0, 0.5, 1, 1.5, 2, 3]) {
    add(`first score + ${gapWeight} × lead${gapWeight === DEFAULT_LOCALIZER_SETTINGS.gapWeight ? " (the service's weight)" : gapWeight === 0 ? ' (before)' : ''}`, recall(photos, byService, undefined, gapWeight));
  }
  for (const [gapWeight, gamma] of [[0, 0.5], [2, 0.5], [2, 0.8]] as const) {
    add(`first score + ${gapWeight} × lead + ${gamma} × region similarity to the first result`, recall(photos, (region) => ({ firstId: String(first(region)[0]), firstScore: first(region)[1] + gapWeight * lead(region) + gamma * first(region)[2] }), undefined, 0));
  }
  // The first `n` candidates of those at least `minArea` of the photo (the reference always): what the service's floor
  // (LocalizerSettings.minRegionArea) and cap on the regions (LOCALIZE_PRIMARY_REGIONS) keep.
  const firstCandidates =
    (n = DEFAULT_LOCALIZER_SETTINGS.primaryRegions, minArea = DEFAULT_LOCALIZER_SETTINGS.minRegionArea) =>
    (photo: Photo): number[] =>
      photo.regions
        .map((region, i) => ({ box: region.candidate.box, i }))
        .filter(({ box, i }) => i === 0 || !box || box.width * box.height >= minArea * photo.width * photo.height)
        .slice(0, n)
        .map(({ i }) => i);
  // A cascade: the first 16 scored by `scorer`, the reference and the `keep` best of them scored again by the model.
  const cascade =
    (scorer: Scorer, keep: number, minArea = DEFAULT_LOCALIZER_SETTINGS.minRegionArea) =>
    (photo: Photo): number[] => {
      const first16 = firstCandidates(undefined, minArea)(photo);
      const score = first16.map((i) => regionScore(scorer(photo.regions[i]!), DEFAULT_LOCALIZER_SETTINGS.gapWeight));
      const order = first16.filter((i) => i > 0).sort((a, b) => score[first16.indexOf(b)]! - score[first16.indexOf(a)]!);
      return [0, ...order.slice(0, keep)].sort((a, b) => a - b);
    };
  // The service's scorer (LOCALIZE_SCORER=int8): the regions by the int8 copy, the reference (the whole photo, asked
  // whole first) by the model; the chosen region is then searched by the model (its hybrid results, as every row).
  const byInt8 = (region: Region): RegionAnswer =>
    region.candidate.source === 'whole' ? byService(region) : { firstId: String(region.smaller.int8![0]![0]), firstScore: region.smaller.int8![0]![1], secondScore: region.smaller.int8![1]![1] };
  add(`the service's, regions scored by the int8 copy (${perRegion('int8')} ms of model a region against ${perRegion(own)}; the reference and the chosen one by the model)`, recall(photos, byInt8));
  add(`the service's, regions scored by the int8 copy, the first ${DEFAULT_LOCALIZER_SETTINGS.primaryRegions} candidates (LOCALIZE_SCORER=int8, LOCALIZE_RESCORE_REGIONS=0)`, recall(photos, byInt8, firstCandidates()));
  add(`the service's, regions scored by the model, the first ${DEFAULT_LOCALIZER_SETTINGS.primaryRegions} candidates (LOCALIZE_SCORER=float)`, recall(photos, byService, firstCandidates()));
  for (const keep of [1, 2, 3, 4]) {
    const label = keep === DEFAULT_LOCALIZER_SETTINGS.rescoreRegions ? ` (LOCALIZE_RESCORE_REGIONS=${keep}, the default)` : '';
    add(`cascade: the first ${DEFAULT_LOCALIZER_SETTINGS.primaryRegions} scored by the int8 copy, the reference + their ${keep} best scored again by the model${label}`, recall(photos, byService, cascade(byInt8, keep)));
  }
  for (const size of scoreSizes) {
    const bySmaller = (region: Region): RegionAnswer => ({ firstId: String(region.smaller[size]![0]![0]), firstScore: region.smaller[size]![0]![1], secondScore: region.smaller[size]![1]![1] });
    add(`the service's, regions scored at ${size} px (${perRegion(size)} ms of model a region against ${perRegion(own)} at ${own}; the chosen one searched at ${own})`, recall(photos, bySmaller));
    add(`the service's, regions scored at ${size} px, the first ${DEFAULT_LOCALIZER_SETTINGS.primaryRegions} candidates`, recall(photos, bySmaller, firstCandidates()));
    for (const keep of [2, 3, 4, 6]) {
      add(`cascade: the first ${DEFAULT_LOCALIZER_SETTINGS.primaryRegions} scored at ${size} px, the reference + their ${keep} best scored again at ${own} px`, recall(photos, byService, cascade(bySmaller, keep)));
    }
  }
  const cap = DEFAULT_LOCALIZER_SETTINGS.primaryRegions;
  for (const regions of [8, 10, 12, 14, 16, 20]) {
    const label = `the service's, the first ${regions} candidates (LOCALIZE_PRIMARY_REGIONS=${regions}${regions === cap ? ', the default' : ''})`;
    add(label, recall(photos, byService, firstCandidates(regions)));
  }
  for (const keep of [4, 6, 8]) {
    const prerank = (photo: Photo): number[] => {
      const pooledScore = photo.regions.map((region) => region.pooled[0]![1] + 2 * (region.pooled[0]![1] - region.pooled[1]![1]));
      const order = pooledScore.map((_, i) => i).filter((i) => i > 0).sort((a, b) => pooledScore[b]! - pooledScore[a]!);
      return [0, ...order.slice(0, keep)].sort((a, b) => a - b);
    };
    add(`the service's, only the reference + the ${keep} best by pooled vectors embedded`, recall(photos, byService, prerank));
  }
  // The service's whole choice: asked whole first (LOCALIZE_SKIP_SCORE), a photo without a trim whose whole-photo score
  // reaches `threshold` is answered whole; the others are localized, the primary region chosen among the cascade's
  // (the first candidates of at least `minArea` of the photo, the int8 copy's best scored again by the model).
  const answeredWhole = (photo: Photo, threshold: number): boolean => {
    const reference = photo.regions[0]!;
    return threshold > 0 && reference.candidate.source === 'whole' && regionScore(byService(reference), DEFAULT_LOCALIZER_SETTINGS.gapWeight) >= threshold;
  };
  const serviceChoice = (photo: Photo, { threshold = DEFAULT_LOCALIZER_SETTINGS.skipScore, minArea = DEFAULT_LOCALIZER_SETTINGS.minRegionArea, settings = DEFAULT_LOCALIZER_SETTINGS, scorer = byService } = {}): number => {
    if (answeredWhole(photo, threshold)) return 0;
    const kept = cascade(byInt8, DEFAULT_LOCALIZER_SETTINGS.rescoreRegions, minArea)(photo);
    const regions = kept.map((i) => photo.regions[i]!);
    return kept[choose(regions.map((region) => region.candidate), regions.map(scorer), photo, settings, 5).primary]!;
  };
  const withSkip = (set: Photo[], threshold: number) => ({
    skipped: set.filter((photo) => answeredWhole(photo, threshold)).length / set.length,
    recall: set.filter((photo) => photo.regions[serviceChoice(photo, { threshold })]!.hybrid[0]![0] === photo.product).length / set.length,
  });
  const skipRows = [0, 0.7, 0.8, 0.9, 1].map((threshold) => ({ threshold, scene: withSkip(photos, threshold), plain: withSkip(plainPhotos, threshold) }));
  // With small candidates dropped below `minArea`, on every set; for the hard negatives, what came first instead of the item.
  const hardSet = await buildHardNegativeDevSet(path.join(CACHE, 'hard-negatives'), HARD_NEGATIVES);
  const serviceRecall = (set: Photo[], minArea: number) => {
    const instead: Record<string, number> = {};
    let found = 0;
    for (const photo of set) {
      const first = photo.regions[serviceChoice(photo, { minArea })]!.hybrid[0]![0];
      if (first === photo.product) found++;
      else if (photo.kind === 'hard') instead[hardSet.catalog[first]!.kind] = (instead[hardSet.catalog[first]!.kind] ?? 0) + 1;
    }
    return { recall: found / set.length, instead };
  };
  const floorRows = [0, 0.01, 0.02, 0.03, 0.04].map((minArea) => ({ minArea, scene: serviceRecall(photos, minArea), plain: serviceRecall(plainPhotos, minArea), hard: serviceRecall(hardPhotos, minArea) }));
  // The objectness head's boxes (LOCALIZE_OBJECTNESS=always: the first candidates after the whole photo) and the rule
  // that a part gives way to a larger region holding it (LocalizerSettings.containerScore), each on and off.
  const withoutHead = (photo: Photo): Photo => ({ ...photo, regions: photo.regions.filter((region) => region.candidate.source !== 'objectness') });
  const headRecall = (set: Photo[], useHead: boolean, settings: typeof DEFAULT_LOCALIZER_SETTINGS) =>
    set.map((photo) => (useHead ? photo : withoutHead(photo))).filter((photo) => photo.regions[serviceChoice(photo, { settings })]!.hybrid[0]![0] === photo.product).length / set.length;
  const noContainer = { ...DEFAULT_LOCALIZER_SETTINGS, containerScore: undefined };
  const headWays: Array<{ way: string; head: boolean; settings: typeof DEFAULT_LOCALIZER_SETTINGS }> = [
    { way: 'without the head\'s boxes, no container rule (before)', head: false, settings: noContainer },
    { way: "the head's boxes (LOCALIZE_OBJECTNESS=always), no container rule", head: true, settings: noContainer },
    { way: 'the container rule alone (LOCALIZE_OBJECTNESS=objects)', head: false, settings: DEFAULT_LOCALIZER_SETTINGS },
    { way: "**the head's boxes and the container rule (the defaults)**", head: true, settings: DEFAULT_LOCALIZER_SETTINGS },
    ...[0.7, 0.8, 0.9].flatMap((containerScore) =>
      [0.1, 0.3, 0.5].filter((containerMargin) => containerScore !== DEFAULT_LOCALIZER_SETTINGS.containerScore || containerMargin !== DEFAULT_LOCALIZER_SETTINGS.containerMargin).map((containerMargin) => ({
        way: `the head's boxes, a container scoring ≥ ${containerScore}, margin ${containerMargin}`,
        head: true,
        settings: { ...DEFAULT_LOCALIZER_SETTINGS, containerScore, containerMargin },
      })),
    ),
  ];
  const headRows = headWays.map(({ way, head, settings }) => ({ way, scene: headRecall(photos, head, settings), plain: headRecall(plainPhotos, head, settings), hard: headRecall(hardPhotos, head, settings) }));
  // The lead over the first of the next results that is not a near-duplicate of the first result (catalog cosine of the
  // main model's vectors below `tau`; none among them: the last), in the choice among the cascade's regions: a
  // recoloured variant of the whole item, right behind it, no longer cancels the item region's lead.
  const vectors = await catalogVectors();
  // The service's rule (core/localization/near-duplicates.ts) on every region, whatever its lead (`gap` lifted), each
  // catalog item one photo.
  const { depth } = DEFAULT_LOCALIZER_SETTINGS.nearDuplicate;
  const photosOf = (catalog: Float32Array) => new Map(Array.from({ length: catalog.length / vectors.dims }, (_, item) => [String(item), [row(catalog, vectors.dims, item)]]));
  const catalogPhotos = new Map([vectors.scenes, vectors.hard].map((catalog) => [catalog, photosOf(catalog)]));
  const distinctLead =
    (catalog: Float32Array, threshold: number) =>
    (region: Region): RegionAnswer => {
      const hits = region.semantic.map(([item, score]) => ({ id: String(item), cosine: score }));
      const secondScore = distinctSecond(hits, catalogPhotos.get(catalog)!, { threshold, depth, gap: Infinity }) ?? region.semantic[1]![1];
      return { firstId: hits[0]!.id, firstScore: hits[0]!.cosine, secondScore };
    };
  const distinctRecall = (set: Photo[], catalog: Float32Array, tau: number) => set.filter((photo) => photo.regions[serviceChoice(photo, { scorer: distinctLead(catalog, tau) })]!.hybrid[0]![0] === photo.product).length / set.length;
  const distinctRows = [0.9, 0.85, 0.8, 0.75, 0.7].map((tau) => ({ tau, scene: distinctRecall(photos, vectors.scenes, tau), plain: distinctRecall(plainPhotos, vectors.scenes, tau), hard: distinctRecall(hardPhotos, vectors.hard, tau) }));
  // How alike the hard-negative catalog's products are: each whole item against its variant, its close-ups and others.
  const pairCosines: Record<string, number[]> = { variant: [], closeup: [], 'another item': [] };
  hardSet.catalog.forEach((item, i) => {
    if (item.kind !== 'whole') return;
    hardSet.catalog.forEach((other, j) => {
      if (j !== i && other.object === item.object) pairCosines[other.kind]!.push(itemCosine(vectors.hard, vectors.dims, i, j));
    });
    const other = (i * 7 + 13) % hardSet.catalog.length;
    if (hardSet.catalog[other]!.object !== item.object) pairCosines['another item']!.push(itemCosine(vectors.hard, vectors.dims, i, other));
  });
  const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))]!;
  const hardOracle = hardPhotos.filter((photo) => photo.regions.some((region) => region.hybrid[0]![0] === photo.product)).length / hardPhotos.length;
  const hardCovered = hardPhotos.filter((photo) => photo.regions.some((region) => region.iou >= 0.5)).length / hardPhotos.length;
  const hardWhole = hardPhotos.filter((photo) => photo.regions[0]!.hybrid[0]![0] === photo.product).length / hardPhotos.length;
  const hardSkipped = hardPhotos.filter((photo) => answeredWhole(photo, DEFAULT_LOCALIZER_SETTINGS.skipScore)).length / hardPhotos.length;
  const insteadOf = (instead: Record<string, number>): string => Object.entries(instead).sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${n} ${kind}`).join(', ');
  const plainWhole = plainPhotos.filter((photo) => photo.regions[0]!.hybrid[0]![0] === photo.product).length / plainPhotos.length;
  const learned = learnedRecall(photos);
  const oracle = photos.filter((photo) => photo.regions.some((region) => region.hybrid[0]![0] === photo.product)).length / photos.length;
  const covered = photos.filter((photo) => photo.regions.some((region) => region.iou >= 0.5)).length / photos.length;
  const perPhoto = photos.reduce((sum, photo) => sum + photo.regions.length, 0) / photos.length;
  const command = `${process.env.LOCALIZE_MAP ? `LOCALIZE_MAP=${process.env.LOCALIZE_MAP} ` : ''}npm run bench:localization-chooser -- --single ${single} --seed ${seed}${process.argv.includes('--score-sizes') ? ` --score-sizes ${scoreSizes.join(',') || "''"}` : ''}${argument('name', '') ? ` --name ${name}` : ''}`;
  const markdown = `# Choosing the region: how localization picks among its candidates

${photos.length} single-product scene photos (seed ${seed}: the product beside a distractor that is not in the catalog,
on real background photos; [localization-research.md](localization-research.md) describes the dev set), against
${1270} catalog photos (the scene catalog's 208 and the plain dev set's 1062). The service's localizer proposes
${fixed(perPhoto, 1)} candidates a photo (the whole photo, map regions, detector boxes; the map computed by ${mapCopy === 'int8' ? 'the int8 copy of the model, LOCALIZE_MAP=int8' : 'the model itself, LOCALIZE_MAP=float'}); every candidate is embedded by
both models and searched exactly in memory; a photo is found when the chosen region's first hybrid result is the
product. A perfect chooser among the candidates finds **${fixed(oracle, 3)}**; some candidate covers the product
(IoU ≥ 0.5) in ${fixed(covered, 3)}. The lead is the first result's cosine minus the second's (main model); the region
similarity is the precision stage's (core/rerank/regions.ts) between the region, read from the photo's 448 px map, and
the first result's catalog photo.

| way of choosing | recall@1 | even / odd photos | regions embedded a photo |
| --- | --- | --- | --- |
${rows.map((r) => `| ${r.way} | ${fixed(r.recall, 3)} | ${fixed(r.halves[0], 3)} / ${fixed(r.halves[1], 3)} | ${fixed(r.embedded, 1)} |`).join('\n')}
| a linear chooser learned over 17 region features (both models' first scores and leads, region similarities, votes, area, source, position), trained on one half and scored on the other | ${fixed(learned, 3)} | | ${fixed(perPhoto, 1)} |

The service scores a region by its first score + ${DEFAULT_LOCALIZER_SETTINGS.gapWeight} × its lead
(LocalizerSettings.gapWeight); the region similarity adds little for ~15 ms of descriptors a photo, the learned chooser
little more, and pre-ranking by pooled vectors loses too much. The rows that say "the first N candidates" or
"cascade" count what the service embeds: the first N of the candidates that are at least ${DEFAULT_LOCALIZER_SETTINGS.minRegionArea} of the photo's area
(a query without \`objects\` embeds the first ${DEFAULT_LOCALIZER_SETTINGS.primaryRegions}, LOCALIZE_PRIMARY_REGIONS; the floor: the last section); the
others use every candidate, small ones too (up to LOCALIZE_MAX_REGIONS, ${loadConfig(process.env).image.localizeMaxRegions}). Through the API:
[scene-search.md](scene-search.md).

${
  scoreSizes.length > 0
    ? `Scoring the regions at a smaller input size saves less than it loses: the model's run a region (batches of a photo's
candidates, 2 threads) costs ${scoreSizes.map((size) => `${perRegion(size)} ms at ${size} px`).join(', ')} against ${perRegion(own)} at ${own}, but
the choice it makes finds fewer products, and a cascade that keeps the choice (the best few scored again at ${own} px,
a second msearch) saves only the difference between the two sizes' runs.
`
    : ''
}
The main model's int8 copy (LOCALIZE_SCORER=int8, docs/embedding.md) is faster at the model's own size: ${perRegion('int8')} ms of
model a region against ${perRegion(own)}. Its ranking alone finds a little less, so the service scores its best
${DEFAULT_LOCALIZER_SETTINGS.rescoreRegions} again by the model itself, with the reference (LOCALIZE_RESCORE_REGIONS), and
chooses among those: the cascade rows above.

## Asking the whole photo first

A photo without a trim is localized; many are not scenes but close-ups of one product (of the plain dev set's
${plainPhotos.length} such photos of ${measured.plainQueries}, mostly close crops). Asked whole first by the main model, a photo whose
whole-photo score (first cosine + ${DEFAULT_LOCALIZER_SETTINGS.gapWeight} × lead, as regions are scored) reaches a threshold is answered whole, with no
regions (\`LOCALIZE_SKIP_SCORE\`, default ${DEFAULT_LOCALIZER_SETTINGS.skipScore}); the others are localized as above (the first
${DEFAULT_LOCALIZER_SETTINGS.primaryRegions} candidates, chosen as the service does: the int8 copy's best ${DEFAULT_LOCALIZER_SETTINGS.rescoreRegions} scored again by the model). The plain photos are searched among the plain catalog (1062), as scene-search does; searched
whole, ${fixed(plainWhole, 3)} of them find their product first.

| threshold | scene photos answered whole | scene recall@1 | plain photos without a trim answered whole | their recall@1 |
| --- | --- | --- | --- | --- |
${skipRows.map((r) => `| ${r.threshold === 0 ? '0 (always localize, before)' : `${r.threshold}${r.threshold === DEFAULT_LOCALIZER_SETTINGS.skipScore ? ' (the default)' : ''}`} | ${fixed(r.scene.skipped, 3)} | ${fixed(r.scene.recall, 3)} | ${fixed(r.plain.skipped, 3)} | ${fixed(r.plain.recall, 3)} |`).join('\n')}

## Small candidates, and photos of one large item whose parts are other products

The map and the detector also propose small boxes (a few % of the photo): a patch that small matches some catalog
photo by chance (a texture, a close-up of a part of something) with a clear lead, and won the choice. The service drops
candidates under \`minRegionArea\` of the photo's area (LocalizerSettings, default ${DEFAULT_LOCALIZER_SETTINGS.minRegionArea}) before its caps, so the
first ${DEFAULT_LOCALIZER_SETTINGS.primaryRegions} are larger ones. The rows above count with it (except those over every candidate, the smaller sizes'
and the pooled pre-ranking).

Measured on the three sets with the service's whole choice (asked whole first, then the cascade): the scene photos
and the plain photos without a trim above, and bench:rerank's hard-negative dev set (${hardPhotos.length} queries, seed ${HARD_NEGATIVES.seed}: one
item at 55–85 % of the frame's short side on a real background, against a catalog of ${hardSet.catalog.length} products holding each
item, ${HARD_NEGATIVES.closeups} close-ups of its parts and its recolouring as other products; [rerank.md](rerank.md)). There a perfect
chooser finds ${fixed(hardOracle, 3)}, some candidate covers the item (IoU ≥ 0.5) in ${fixed(hardCovered, 3)}, the whole photo searched
as it is ${fixed(hardWhole, 3)}, and ${fixed(hardSkipped, 3)} of the photos are answered whole.

| smallest candidate kept (share of the photo) | scene recall@1 | plain photos without a trim | hard-negative queries | first instead of the item (hard negatives) |
| --- | --- | --- | --- | --- |
${floorRows.map((r) => `| ${r.minArea === 0 ? '0 (every candidate, before)' : `${r.minArea}${r.minArea === DEFAULT_LOCALIZER_SETTINGS.minRegionArea ? ' (the default)' : ''}`} | ${fixed(r.scene.recall, 3)} | ${fixed(r.plain.recall, 3)} | ${fixed(r.hard.recall, 3)} | ${insteadOf(r.hard.instead)} |`).join('\n')}

The hard-negative photos stay far below the box drawn by hand (bench:rerank): a candidate on a part of the item finds
that part's close-up, a near duplicate of it, with a larger lead than the whole item finds the item.

## The objectness head's boxes, and a part inside a larger region

${headBoxes ? `The candidates above include the objectness head's ${DEFAULT_LOCALIZER_SETTINGS.objectnessBoxes} best boxes, first after the whole photo (LOCALIZE_OBJECTNESS=always); the rows "without" take them out of each photo's list.` : 'Measured with LOCALIZE_OBJECTNESS=objects: the candidates hold no head boxes, so rows with and without them are the same.'} The
container rule (LocalizerSettings.containerScore): the chosen region gives way to a larger candidate among those the
choice is made from (at least ${DEFAULT_LOCALIZER_SETTINGS.containerRatio} × its area, covering ${DEFAULT_LOCALIZER_SETTINGS.containerCover} of it) whose region score reaches the
threshold, unless the chosen one beats it by the margin. Recall@1 with the service's whole choice, on the three sets above:

| candidates and choice | scene recall@1 | plain photos without a trim | hard-negative queries |
| --- | --- | --- | --- |
${headRows.map((r) => `| ${r.way} | ${fixed(r.scene, 3)} | ${fixed(r.plain, 3)} | ${fixed(r.hard, 3)} |`).join('\n')}

## A lead that passes over near-duplicates of the first result

On the hard negatives the whole item's region often loses to a region on a part of it: the part finds its close-up
with a clear lead, while the item finds itself with its recoloured variant right behind, a near-duplicate by the main
model (the colour model, in the hybrid, tells them apart later). Here a region's lead is taken over the first of its
next ${DEFAULT_LOCALIZER_SETTINGS.nearDuplicate.depth} results whose catalog vector (main model) has a cosine below τ with the first result's (none: the last of
them), in the service's whole choice (the cascade's regions, the container rule). How alike the hard-negative
catalog's products are, cosine p10 / p50 / p90: ${Object.entries(pairCosines).map(([kind, values]) => `the whole item and ${kind === 'another item' ? 'another item' : `its ${kind}`} ${[0.1, 0.5, 0.9].map((q) => fixed(quantile(values, q), 2)).join(' / ')}`).join('; ')}.

| lead over | scene recall@1 | plain photos without a trim | hard-negative queries |
| --- | --- | --- | --- |
| the second result (the service's) | ${fixed(headRows.find((r) => r.way.includes('(the defaults)'))!.scene, 3)} | ${fixed(headRows.find((r) => r.way.includes('(the defaults)'))!.plain, 3)} | ${fixed(headRows.find((r) => r.way.includes('(the defaults)'))!.hard, 3)} |
${distinctRows.map((r) => `| the first of the next ${DEFAULT_LOCALIZER_SETTINGS.nearDuplicate.depth} with a catalog cosine to the first below ${r.tau} | ${fixed(r.scene, 3)} | ${fixed(r.plain, 3)} | ${fixed(r.hard, 3)} |`).join('\n')}

The service does this since 2026-12-08 (LOCALIZE_NEAR_DUPLICATE, 0.8 by default; core/localization/near-duplicates.ts),
for the regions whose lead over the second result is under 0.1 (the others keep theirs), reading the results' vectors
back in one \`mget\`: about 15–20 ms for 10 products at 100,000 products × 4 photos (synthesized from the vector
files; measured by hand). Through the API: [rerank.md](rerank.md), [scene-search-near-duplicate.md](scene-search-near-duplicate.md).
`;
  writeResult(name, command, { photos: photos.length, oracle, covered, regionsPerPhoto: perPhoto, rows, learned, runCost, plainPhotos: plainPhotos.length, plainWhole, skip: skipRows, hardNegatives: { photos: hardPhotos.length, oracle: hardOracle, covered: hardCovered, whole: hardWhole, skipped: hardSkipped }, floor: floorRows, head: { boxes: headBoxes, rows: headRows }, distinctLead: { depth: DEFAULT_LOCALIZER_SETTINGS.nearDuplicate.depth, rows: distinctRows } }, markdown);
  console.log(markdown);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
