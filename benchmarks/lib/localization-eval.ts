import fs from 'node:fs';
import type { Embedder } from '../../core/embedding/embedder';
import type { CropBox } from '../../core/image/autocrop';
import { createProgress } from '../../core/progress';
import sharp from 'sharp';
import { statistic, type FeatureMapModel, type FeatureMaps } from './feature-map';
import type { Method, QueryContext, RefineOptions } from './localization-methods';
import { iou, padBox, scdaRegions } from './localize';
import { embedRegions, search, type CatalogIndex, type Hit, type RegionVectors } from './region-search';

/**
 * Runs localisation methods over queries and scores them: each method's candidate regions are embedded (each distinct
 * region once, shared between methods through `cache`), searched exactly, and the method's choice is checked against
 * the truth.
 */
export interface EvalQuery extends QueryContext {
  kind: 'single' | 'multi';
  /** Catalog index of each product in the photo, in the order of `products`. */
  targets: number[];
  /** Boxes of the distractors (objects not in the catalog), working image's pixels. */
  distractors: CropBox[];
}

export interface MethodResult {
  method: string;
  queries: number;
  /** Single-object queries: the primary region's first result is the product (@1) / it is in the first five (@5). */
  recall_at_1: number;
  recall_at_5: number;
  /** Mean IoU of the primary region (the whole image when none) with the product's true box. */
  crop_iou: number;
  /** Single-object queries where some candidate region (before any choice) has IoU ≥ 0.5 with the product. */
  proposal_recall: number;
  /** Single-object queries where some embedded region's first result is the product (a perfect chooser's recall@1). */
  oracle_recall_at_1: number;
  /** Single-object queries whose primary region overlaps the product (IoU ≥ 0.3) / the distractor instead. */
  on_product: number;
  on_distractor: number;
  /** Multi-object queries: share of the placed products that are the first result of one returned region. */
  object_recall: number;
  /** Multi-object queries where every placed product was found that way. */
  all_found: number;
  candidates_per_query: number;
  /** Regions run through the models (fewer than the candidates when they are ranked by pooled vectors). */
  embedded_per_query: number;
  returned_per_query: number;
}

const boxKey = (box: CropBox | null): string => (box ? `${box.left},${box.top},${box.width},${box.height}` : 'whole');

export class RegionCache {
  private readonly hits = new Map<string, Hit[]>();

  /** `file`: where the search results are kept between runs (they depend on the catalog and the models only). */
  constructor(
    private readonly embedder: Embedder,
    readonly index: CatalogIndex,
    private readonly file?: string,
  ) {
    if (file && fs.existsSync(file)) for (const [key, value] of Object.entries(JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Hit[]>)) this.hits.set(key, value);
  }

  save(): void {
    if (this.file) fs.writeFileSync(this.file, JSON.stringify(Object.fromEntries(this.hits)));
  }

  /** Search results of every (query, box), embedding those not seen yet in batches of 32. */
  async resolve(requests: Array<{ query: QueryContext; box: CropBox | null }>, label: string): Promise<Hit[][]> {
    const missing = new Map<string, { query: QueryContext; box: CropBox | null }>();
    for (const request of requests) {
      const key = `${request.query.id}|${boxKey(request.box)}`;
      if (!this.hits.has(key)) missing.set(key, request);
    }
    const entries = [...missing.entries()];
    const progress = createProgress(`${label}: ${entries.length} regions`);
    for (let start = 0; start < entries.length; start += 32) {
      const chunk = entries.slice(start, start + 32);
      const vectors: RegionVectors[] = await embedRegions(this.embedder, chunk.map(([, r]) => ({ image: r.query.image, box: r.box })));
      chunk.forEach(([key], i) => this.hits.set(key, search(this.index, vectors[i]!, 5)));
      progress.update(Math.min(start + 32, entries.length), entries.length);
    }
    progress.done();
    return requests.map((r) => this.hits.get(`${r.query.id}|${boxKey(r.box)}`)!);
  }
}

/** The semantic vector of `box` pooled from the feature map (mean over the cells whose centre is inside it). */
export function pooledVector(maps: Pick<FeatureMaps, 'width' | 'height' | 'channels' | 'features'>, box: CropBox, image: { width: number; height: number }): Float32Array {
  const cells = maps.width * maps.height;
  const column = (x: number): number => (x / image.width) * maps.width - 0.5;
  const row = (y: number): number => (y / image.height) * maps.height - 0.5;
  let x0 = Math.ceil(column(box.left));
  let x1 = Math.floor(column(box.left + box.width));
  let y0 = Math.ceil(row(box.top));
  let y1 = Math.floor(row(box.top + box.height));
  // A box narrower than a cell still gets the cell under its centre.
  if (x1 < x0) x0 = x1 = Math.min(maps.width - 1, Math.max(0, Math.round(column(box.left + box.width / 2))));
  if (y1 < y0) y0 = y1 = Math.min(maps.height - 1, Math.max(0, Math.round(row(box.top + box.height / 2))));
  const vector = new Float32Array(maps.channels);
  for (let c = 0; c < maps.channels; c++) {
    let sum = 0;
    for (let y = Math.max(0, y0); y <= Math.min(maps.height - 1, y1); y++) for (let x = Math.max(0, x0); x <= Math.min(maps.width - 1, x1); x++) sum += maps.features[c * cells + y * maps.width + x]!;
    vector[c] = sum;
  }
  let norm = 0;
  for (const v of vector) norm += v * v;
  norm = Math.sqrt(norm) || 1;
  return vector.map((v) => v / norm);
}

/** Semantic-only search (the colour-texture part needs the crop itself). */
function searchSemantic(index: CatalogIndex, vector: Float32Array, k: number): Hit[] {
  return search(index, { semantic: vector, colour: new Float32Array(index.colourDims) }, k, 1);
}

/** Tighter boxes inside each query's best regions (see Method.refine), in the working image's pixels. */
async function refineCandidates(options: RefineOptions, queries: QueryContext[], candidates: Array<Array<CropBox | null>>, hits: Hit[][], model: FeatureMapModel): Promise<CropBox[][]> {
  let offset = 0;
  const out: CropBox[][] = [];
  const progress = createProgress('refining');
  for (const [i, q] of queries.entries()) {
    const boxes = candidates[i]!;
    const queryHits = hits.slice(offset, offset + boxes.length);
    offset += boxes.length;
    const whole = { left: 0, top: 0, width: q.image.width, height: q.image.height };
    const order = boxes.map((_, c) => c).sort((a, b) => queryHits[b]![0]!.score - queryHits[a]![0]!.score).slice(0, options.top);
    const refined: CropBox[] = [];
    for (const c of order) {
      const region = padBox(boxes[c] ?? whole, options.margin, q.image.width, q.image.height);
      if (region.width < 32 || region.height < 32) continue;
      const data = await sharp(q.image.data, { raw: { width: q.image.width, height: q.image.height, channels: 3 } }).extract(region).raw().toBuffer();
      const { maps } = await model.activation({ data, width: region.width, height: region.height }, options.size);
      for (const threshold of options.thresholds) {
        const inner = scdaRegions(statistic(maps, 'sum'), region.width, region.height, { threshold, upsample: 4, padding: options.padding })[0];
        if (inner) refined.push({ left: region.left + inner.box.left, top: region.top + inner.box.top, width: inner.box.width, height: inner.box.height });
      }
    }
    out.push(refined);
    progress.update(i + 1, queries.length);
  }
  progress.done();
  return out;
}

/** Computes the activation maps the methods need and do not have yet. */
export async function ensureMaps(queries: QueryContext[], sizes: number[], model: FeatureMapModel): Promise<void> {
  for (const size of sizes) {
    const todo = queries.filter((q) => !q.maps.has(size));
    if (todo.length === 0) continue;
    const progress = createProgress(`feature maps at ${size} px`);
    for (const [i, q] of todo.entries()) {
      q.maps.set(size, (await model.activation(q.image, size)).maps);
      progress.update(i + 1, todo.length);
    }
    progress.done();
  }
}

/** Scores one method on the queries. */
export async function evaluate(method: Method, queries: EvalQuery[], cache: RegionCache, maps: FeatureMapModel): Promise<MethodResult> {
  await ensureMaps(queries, method.mapSizes, maps);
  await method.prepare?.(queries);
  let candidates = queries.map((q) => method.candidates(q));
  const wholeOf = (q: QueryContext): CropBox => ({ left: 0, top: 0, width: q.image.width, height: q.image.height });
  const covered = queries.filter((q, i) => q.kind === 'single' && candidates[i]!.some((box) => iou(box ?? wholeOf(q), q.products[0]!) >= 0.5)).length;
  const embedded = candidates.reduce((n, boxes) => n + boxes.length, 0);
  if (method.pooled) {
    // Rank by vectors pooled from the map (no model run), keep the best few distinct regions, embed only those.
    const { size, keep, shortlist } = method.pooled;
    candidates = queries.map((q, i) => {
      const boxes = candidates[i]!;
      const whole = { left: 0, top: 0, width: q.image.width, height: q.image.height };
      const maps = q.maps.get(size)!;
      // With a shortlist, candidates are scored only against the best items for the whole photo (what one search
      // returns, vectors included), as a service would do it without one search per candidate.
      const items = shortlist ? searchSemantic(cache.index, pooledVector(maps, whole, q.image), shortlist).map((h) => h.item) : null;
      const bestScore = (vector: Float32Array): number => {
        if (!items) return searchSemantic(cache.index, vector, 1)[0]!.score;
        let best = -Infinity;
        const dims = cache.index.semanticDims;
        for (const item of items) {
          let dot = 0;
          for (let d = 0; d < dims; d++) dot += vector[d]! * cache.index.semantic[item * dims + d]!;
          best = Math.max(best, dot);
        }
        return best;
      };
      const best = boxes.map((box) => bestScore(pooledVector(maps, box ?? whole, q.image)));
      const order = boxes.map((_, c) => c).sort((x, y) => best[y]! - best[x]!);
      const kept: Array<CropBox | null> = [];
      for (const c of order) {
        if (kept.length >= keep) break;
        if (!kept.some((k) => iou(k ?? whole, boxes[c] ?? whole) >= 0.5)) kept.push(boxes[c]!);
      }
      return kept;
    });
  }
  let flat = candidates.flatMap((boxes, i) => boxes.map((box) => ({ query: queries[i]!, box })));
  let hits = await cache.resolve(flat, method.name);
  if (method.refine) {
    const added = await refineCandidates(method.refine, queries, candidates, hits, maps);
    candidates = candidates.map((boxes, i) => [...boxes, ...added[i]!]);
    flat = candidates.flatMap((boxes, i) => boxes.map((box) => ({ query: queries[i]!, box })));
    hits = await cache.resolve(flat, `${method.name} (refined)`);
  }
  let offset = 0;
  let oracle = 0;
  let [single, hit1, hit5, iouSum, onProduct, onDistractor, multi, placed, found, allFound, returned] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  queries.forEach((q, i) => {
    const boxes = candidates[i]!;
    const queryHits = hits.slice(offset, offset + boxes.length);
    offset += boxes.length;
    const chosen = method.choose(q, queryHits, boxes);
    returned += chosen.length;
    if (q.kind === 'single') {
      single++;
      if (queryHits.some((h) => h[0]!.item === q.targets[0])) oracle++;
      const primary = queryHits[chosen[0]!]!;
      if (primary[0]!.item === q.targets[0]) hit1++;
      if (primary.some((h) => h.item === q.targets[0])) hit5++;
      const primaryBox = boxes[chosen[0]!] ?? { left: 0, top: 0, width: q.image.width, height: q.image.height };
      const overlap = iou(primaryBox, q.products[0]!);
      iouSum += overlap;
      if (overlap >= 0.3) onProduct++;
      else if (q.distractors.some((d) => iou(primaryBox, d) >= 0.3)) onDistractor++;
    } else {
      multi++;
      const firsts = new Set(chosen.map((c) => queryHits[c]![0]!.item));
      const hitCount = q.targets.filter((t) => firsts.has(t)).length;
      placed += q.targets.length;
      found += hitCount;
      if (hitCount === q.targets.length) allFound++;
    }
  });
  const ratio = (a: number, b: number): number => (b > 0 ? a / b : NaN);
  return {
    method: method.name,
    queries: queries.length,
    recall_at_1: ratio(hit1, single),
    recall_at_5: ratio(hit5, single),
    crop_iou: ratio(iouSum, single),
    proposal_recall: ratio(covered, single),
    oracle_recall_at_1: ratio(oracle, single),
    on_product: ratio(onProduct, single),
    on_distractor: ratio(onDistractor, single),
    object_recall: ratio(found, placed),
    all_found: ratio(allFound, multi),
    candidates_per_query: embedded / queries.length,
    embedded_per_query: flat.length / queries.length,
    returned_per_query: returned / queries.length,
  };
}
