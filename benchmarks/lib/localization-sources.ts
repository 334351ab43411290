import { performance } from 'node:perf_hooks';
import type { Config } from '../../core/config';
import { Detector, type Detection } from '../../core/detection/detector';
import { resolveDetectorManifest } from '../../core/detection/manifest';
import type { CropBox } from '../../core/image/autocrop';
import type { Logger } from '../../core/logger';
import { decodeObjectness, loadObjectnessHead, objectnessOutputs, type ObjectnessBox, type ObjectnessWeights } from '../../core/localization/objectness';
import { selectiveSearch, type SelectiveSearchOptions } from '../../core/localization/selective-search';
import { createProgress } from '../../core/progress';
import type { FeatureMaps } from './feature-map';
import { pooledVector } from './localization-eval';
import { proposalMethod, trimElse, type Method, type ProposalOptions, type QueryContext, type ScdaSpec } from './localization-methods';
import { iou } from './localize';
import { search, type CatalogIndex, type Hit } from './region-search';
import { percentile } from './report';

/**
 * Two more class-agnostic proposal sources for the localisation methods: the built-in SSD detector's boxes (any of its
 * 23 classes, low score thresholds) and Selective Search (core/localization/selective-search.ts), computed once per
 * query and timed per query (one query at a time).
 */
export class ProposalSources {
  private readonly detections = new WeakMap<QueryContext, Detection[]>();
  private readonly selective = new WeakMap<QueryContext, CropBox[]>();
  private readonly shortlists = new WeakMap<QueryContext, number[]>();
  /** Selective Search boxes of a query in pooled order (distinct, IoU < 0.5), shared by the methods. */
  private readonly selectiveOrder = new WeakMap<QueryContext, CropBox[]>();
  private readonly objectness = new WeakMap<QueryContext, Float32Array>();
  readonly timings: Record<string, number[]> = { 'detector (preprocess + inference + decode)': [], 'selective search': [], 'objectness head (on the 448 px map)': [] };
  private detector: Detector | null = null;
  private head: ObjectnessWeights | null = null;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    readonly selectiveOptions: Partial<SelectiveSearchOptions> = {},
  ) {}

  /** Detects (score ≥ 0.05, up to 100 boxes, class-agnostic suppression at IoU 0.7) and runs Selective Search as needed. */
  async prepare(queries: QueryContext[], needs: { detector?: boolean; selective?: boolean }): Promise<void> {
    if (needs.detector && queries.some((q) => !this.detections.has(q))) {
      this.detector ??= await Detector.load(resolveDetectorManifest(), this.config.onnx, this.logger);
      const progress = createProgress('detector proposals');
      for (const [i, q] of queries.entries()) {
        if (this.detections.has(q)) continue;
        const start = performance.now();
        this.detections.set(q, await this.detector.detect(q.image, { scoreThreshold: 0.05, maxDetections: 100, iouThreshold: 0.7 }));
        this.timings['detector (preprocess + inference + decode)']!.push(performance.now() - start);
        progress.update(i + 1, queries.length);
      }
      progress.done();
    }
    if (needs.selective && queries.some((q) => !this.selective.has(q))) {
      const progress = createProgress('selective search');
      for (const [i, q] of queries.entries()) {
        if (this.selective.has(q)) continue;
        const start = performance.now();
        this.selective.set(q, selectiveSearch(q.image, this.selectiveOptions).map((p) => p.box));
        this.timings['selective search']!.push(performance.now() - start);
        progress.update(i + 1, queries.length);
      }
      progress.done();
    }
  }

  /** The detector's boxes with a score ≥ `threshold`, the best `top`. */
  detectorBoxes(q: QueryContext, threshold: number, top: number): CropBox[] {
    return this.detections
      .get(q)!
      .filter((d) => d.score >= threshold)
      .slice(0, top)
      .map(({ left, top: y, width, height }) => ({ left, top: y, width, height }));
  }

  /** The objectness head's best `top` boxes (heat ≥ `minScore`, padded by `padding`) on the 448 px map; timed once per query. */
  objectnessBoxes(q: QueryContext, top: number, minScore: number, padding: number, scales: number[] = [1]): ObjectnessBox[] {
    let outputs = this.objectness.get(q);
    const maps = q.maps.get(POOLED_SIZE)!;
    if (!outputs) {
      this.head ??= loadObjectnessHead();
      const start = performance.now();
      outputs = objectnessOutputs(this.head, maps);
      this.timings['objectness head (on the 448 px map)']!.push(performance.now() - start);
      this.objectness.set(q, outputs);
    }
    return decodeObjectness(outputs, maps.width, maps.height, q.image, { maxBoxes: top * scales.length, minScore, padding, iouThreshold: 0.7, scales });
  }

  selectiveBoxes(q: QueryContext): CropBox[] {
    return this.selective.get(q)!;
  }

  /** The best `keep` Selective Search boxes by pooled ranking (see pooledBest), ranked once per query. */
  selectivePooled(q: QueryContext, index: CatalogIndex, size: number, shortlist: number, keep: number): CropBox[] {
    let order = this.selectiveOrder.get(q);
    if (!order) {
      // Greedy suppression keeps a prefix of this order whatever `keep` is, so one ranking serves every method.
      order = this.pooledBest(q, this.selectiveBoxes(q), index, size, shortlist, 50);
      this.selectiveOrder.set(q, order);
    }
    return order.slice(0, keep);
  }

  /**
   * The best `keep` distinct (IoU < 0.5) of `boxes` by their vector pooled from the map at `size` px, scored by its
   * best cosine with the `shortlist` catalog items nearest to the whole photo's pooled vector (semantic part only).
   */
  pooledBest(q: QueryContext, boxes: CropBox[], index: CatalogIndex, size: number, shortlist: number, keep: number): CropBox[] {
    const maps = q.maps.get(size)!;
    const whole = { left: 0, top: 0, width: q.image.width, height: q.image.height };
    let items = this.shortlists.get(q);
    if (!items) {
      items = search(index, { semantic: pooledVector(maps, whole, q.image), colour: new Float32Array(index.colourDims) }, shortlist, 1).map((h) => h.item);
      this.shortlists.set(q, items);
    }
    const dims = index.semanticDims;
    const vectors = new Float32Array(items.length * dims);
    items.forEach((item, i) => vectors.set(index.semantic.subarray(item * dims, (item + 1) * dims), i * dims));
    const score = pooledScores(maps, boxes, q.image, vectors, items.length);
    const order = boxes.map((_, i) => i).sort((a, b) => score[b]! - score[a]! || a - b);
    const kept: CropBox[] = [];
    for (const i of order) {
      if (kept.length >= keep) break;
      if (!kept.some((k) => iou(k, boxes[i]!) >= 0.5)) kept.push(boxes[i]!);
    }
    return kept;
  }

  /** Median and p95 per timed stage, ms. */
  latency(): Record<string, { queries: number; median: number; p95: number }> {
    return Object.fromEntries(Object.entries(this.timings).filter(([, v]) => v.length > 0).map(([stage, v]) => [stage, { queries: v.length, median: percentile(v, 50), p95: percentile(v, 95) }]));
  }

  async close(): Promise<void> {
    await this.detector?.close();
  }
}

/**
 * The best cosine of each box's pooled vector (pooledVector: the mean of the map's cells inside it, L2-normalised)
 * with `count` unit vectors `items` (rows of the map's channels). Computed through each cell's dot product with each
 * item and integral images over the cells, so that a box costs O(channels + items) rather than O(cells × channels ×
 * items): ~200 boxes against 100 items take one 1280 × cells × 100 product (≈ 20 M multiply-adds), not 200 of them.
 */
export function pooledScores(maps: FeatureMaps, boxes: CropBox[], image: { width: number; height: number }, items: Float32Array, count: number): Float32Array {
  const { width, height, channels, features } = maps;
  const cells = width * height;
  const transposed = new Float32Array(channels * count);
  for (let i = 0; i < count; i++) for (let c = 0; c < channels; c++) transposed[c * count + i] = items[i * channels + c]!;
  const dots = new Float32Array(cells * count);
  for (let c = 0; c < channels; c++) {
    for (let cell = 0; cell < cells; cell++) {
      const f = features[c * cells + cell]!;
      if (f === 0) continue;
      for (let i = 0; i < count; i++) dots[cell * count + i]! += f * transposed[c * count + i]!;
    }
  }
  // Integral images over (height + 1) × (width + 1) corners: of the dot products, and of the channels (for the norm).
  const stride = width + 1;
  const dotSums = new Float64Array((height + 1) * stride * count);
  const channelSums = new Float64Array((height + 1) * stride * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [at, up, left, diagonal] = [(y + 1) * stride + x + 1, y * stride + x + 1, (y + 1) * stride + x, y * stride + x];
      for (let i = 0; i < count; i++) dotSums[at * count + i] = dots[(y * width + x) * count + i]! + dotSums[up * count + i]! + dotSums[left * count + i]! - dotSums[diagonal * count + i]!;
      for (let c = 0; c < channels; c++) channelSums[at * channels + c] = features[c * cells + y * width + x]! + channelSums[up * channels + c]! + channelSums[left * channels + c]! - channelSums[diagonal * channels + c]!;
    }
  }
  const column = (x: number): number => (x / image.width) * width - 0.5;
  const row = (y: number): number => (y / image.height) * height - 0.5;
  return Float32Array.from(boxes, (box) => {
    // The cells whose centre is inside the box, as pooledVector takes them.
    let x0 = Math.ceil(column(box.left));
    let x1 = Math.floor(column(box.left + box.width));
    let y0 = Math.ceil(row(box.top));
    let y1 = Math.floor(row(box.top + box.height));
    if (x1 < x0) x0 = x1 = Math.min(width - 1, Math.max(0, Math.round(column(box.left + box.width / 2))));
    if (y1 < y0) y0 = y1 = Math.min(height - 1, Math.max(0, Math.round(row(box.top + box.height / 2))));
    [x0, y0, x1, y1] = [Math.max(0, x0), Math.max(0, y0), Math.min(width - 1, x1), Math.min(height - 1, y1)];
    const [a, b, c, d] = [y0 * stride + x0, y0 * stride + x1 + 1, (y1 + 1) * stride + x0, (y1 + 1) * stride + x1 + 1];
    let norm = 0;
    for (let k = 0; k < channels; k++) {
      const sum = channelSums[d * channels + k]! - channelSums[b * channels + k]! - channelSums[c * channels + k]! + channelSums[a * channels + k]!;
      norm += sum * sum;
    }
    norm = Math.sqrt(norm) || 1;
    let best = -Infinity;
    for (let i = 0; i < count; i++) best = Math.max(best, (dotSums[d * count + i]! - dotSums[b * count + i]! - dotSums[c * count + i]! + dotSums[a * count + i]!) / norm);
    return best;
  });
}

export interface SourceOptions {
  /** SCDA regions, all embedded (as proposalMethod). */
  scda: Array<ScdaSpec & { count: number }>;
  /** Detector boxes with score ≥ threshold, the best `top`, all embedded. */
  detector?: { threshold: number; top: number };
  /** Selective Search boxes: the best `keep` by pooled ranking (or by their own rank when `byRank`), embedded. */
  selective?: { keep: number; byRank?: boolean };
  /** The objectness head's best `top` boxes with heat ≥ `minScore`, padded by `padding`. */
  objectness?: { top: number; minScore: number; padding: number; scales?: number[] };
  /**
   * Choose with the first score + `objectnessBonus` × the region's objectness (the best score × IoU of the head's
   * 8 best boxes with it): a region that frames a thing the head sees is preferred over a background patch.
   */
  objectnessBonus?: number;
  /** Rank every candidate but the whole photo by pooled vectors and embed only the best this many (and the whole photo). */
  pooledAll?: number;
  /** Keep the whole photo as the primary unless a region beats it by this much. */
  wholeMargin: number;
}

const POOLED_SIZE = 448;
const SHORTLIST = 100;

/**
 * trim, else: the whole photo + SCDA regions + detector boxes + pre-ranked Selective Search boxes, each embedded and
 * searched; the primary is the one whose first result scores best (the whole photo kept unless beaten by the margin).
 */
export function sourcesMethod(name: string, options: SourceOptions, index: CatalogIndex, sources: ProposalSources): Method {
  const base: ProposalOptions = { scda: options.scda, grid: [], whole: true, trim: false, criterion: 'top1', margin: 0.1, maxObjects: 4, wholeMargin: options.wholeMargin };
  const scda = proposalMethod(name, base);
  const needs = { detector: Boolean(options.detector), selective: Boolean(options.selective) };
  return trimElse({
    ...scda,
    mapSizes: [...new Set([...scda.mapSizes, ...((options.selective && !options.selective.byRank) || options.pooledAll || options.objectness ? [POOLED_SIZE] : [])])],
    prepare: (queries) => sources.prepare(queries, needs),
    candidates: (q) => {
      const boxes = scda.candidates(q);
      if (options.objectness) boxes.push(...sources.objectnessBoxes(q, options.objectness.top, options.objectness.minScore, options.objectness.padding, options.objectness.scales).map((b) => b.box));
      if (options.detector) boxes.push(...sources.detectorBoxes(q, options.detector.threshold, options.detector.top));
      if (options.selective) {
        const { keep, byRank } = options.selective;
        boxes.push(...(byRank ? sources.selectiveBoxes(q).slice(0, keep) : sources.selectivePooled(q, index, POOLED_SIZE, SHORTLIST, keep)));
      }
      // Near-identical boxes cost an embedding and add nothing.
      const distinct = boxes.filter((box, i) => boxes.findIndex((other) => (box === null ? other === null : other !== null && iou(box, other) > 0.9)) === i);
      if (!options.pooledAll) return distinct;
      const regions = distinct.filter((box): box is CropBox => box !== null);
      return [null, ...sources.pooledBest(q, regions, index, POOLED_SIZE, SHORTLIST, options.pooledAll)];
    },
    ...(options.objectnessBonus
      ? {
          choose: (q: QueryContext, hits: Hit[][], boxes: Array<CropBox | null>) => {
            if (boxes.length < 2 || !q.maps.has(POOLED_SIZE)) return scda.choose(q, hits, boxes); // trimmed: nothing to choose
            const head = sources.objectnessBoxes(q, 8, 0.02, 0.1);
            const bonus = (box: CropBox | null): number => (box ? options.objectnessBonus! * Math.max(0, ...head.map((h) => h.score * iou(h.box, box))) : 0);
            const adjusted = hits.map((list, i) => list.map((hit, rank) => (rank === 0 ? { ...hit, score: hit.score + bonus(boxes[i]!) } : hit)));
            return scda.choose(q, adjusted, boxes);
          },
          mapSizes: [...new Set([...scda.mapSizes, POOLED_SIZE])],
        }
      : {}),
  });
}

const SCDA_T1_3: Array<ScdaSpec & { count: number }> = [1, 1.5, 2, 2.5, 3].map((threshold) => ({ statistic: 'sum', size: 448, threshold, upsample: 4, padding: 0.1, count: 3 }));

/** The methods measured with the new sources (names start with "trim, else src:"). */
export function sourceMethods(index: CatalogIndex, sources: ProposalSources): Method[] {
  const method = (name: string, options: Partial<SourceOptions>): Method => sourcesMethod(`src: ${name}, whole kept unless beaten by 0.05 (top1)`, { scda: [], wholeMargin: 0.05, ...options }, index, sources);
  return [
    ...[0.05, 0.1, 0.2, 0.3].map((threshold) => method(`det t${threshold} top10 + whole`, { detector: { threshold, top: 10 } })),
    method('det t0.05 top20 + whole', { detector: { threshold: 0.05, top: 20 } }),
    ...[3, 5, 8].map((keep) => method(`ss pooled keep ${keep} + whole`, { selective: { keep } })),
    method('ss rank top 8 + whole', { selective: { keep: 8, byRank: true } }),
    method('scda t1–3 top-3 + whole', { scda: SCDA_T1_3 }),
    ...[0.1, 0.3].map((threshold) => method(`scda t1–3 top-3 + det t${threshold} top10 + whole`, { scda: SCDA_T1_3, detector: { threshold, top: 10 } })),
    ...[3, 5].map((keep) => method(`scda t1–3 top-3 + ss pooled keep ${keep} + whole`, { scda: SCDA_T1_3, selective: { keep } })),
    ...[3, 5].map((keep) => method(`scda t1–3 top-3 + det t0.1 top10 + ss pooled keep ${keep} + whole`, { scda: SCDA_T1_3, detector: { threshold: 0.1, top: 10 }, selective: { keep } })),
    method('scda t1–3 top-3 + det t0.05 top10 + whole', { scda: SCDA_T1_3, detector: { threshold: 0.05, top: 10 } }),
    ...[5, 8].map((keep) => method(`scda t1–3 top-3 + det t0.05 top10 + ss pooled keep ${keep} + whole`, { scda: SCDA_T1_3, detector: { threshold: 0.05, top: 10 }, selective: { keep } })),
    method('det t0.1 top10 + ss pooled keep 5 + whole', { detector: { threshold: 0.1, top: 10 }, selective: { keep: 5 } }),
    method('det t0.05 top10 + ss pooled keep 8 + whole', { detector: { threshold: 0.05, top: 10 }, selective: { keep: 8 } }),
    ...[3, 5, 8].flatMap((top) => [0, 0.1].map((padding) => method(`head top${top} pad ${padding} + whole`, { objectness: { top, minScore: 0.02, padding } }))),
    ...[3, 5].map((top) => method(`head top${top} + det t0.05 top10 + whole`, { objectness: { top, minScore: 0.02, padding: 0.1 }, detector: { threshold: 0.05, top: 10 } })),
    ...[3, 5].map((top) => method(`head top${top} + scda t1–3 top-3 + det t0.05 top10 + whole`, { objectness: { top, minScore: 0.02, padding: 0.1 }, scda: SCDA_T1_3, detector: { threshold: 0.05, top: 10 } })),
    ...[0.05, 0.1, 0.2].map((bonus) => method(`head top3 + scda t1–3 top-3 + det t0.05 top10 + whole, objectness bonus ${bonus}`, { objectness: { top: 3, minScore: 0.02, padding: 0.1 }, scda: SCDA_T1_3, detector: { threshold: 0.05, top: 10 }, objectnessBonus: bonus })),
    ...[0.1].map((bonus) => method(`scda t1–3 top-3 + det t0.05 top10 + whole, objectness bonus ${bonus}`, { scda: SCDA_T1_3, detector: { threshold: 0.05, top: 10 }, objectnessBonus: bonus })),
    ...[2, 3].map((top) => method(`head top${top} × 0.7/1/1.4 + whole`, { objectness: { top, minScore: 0.02, padding: 0.1, scales: [0.7, 1, 1.4] } })),
    ...[3].map((top) => method(`head top${top} × 0.7/1/1.4 + det t0.05 top10 + whole`, { objectness: { top, minScore: 0.02, padding: 0.1, scales: [0.7, 1, 1.4] }, detector: { threshold: 0.05, top: 10 } })),
    ...[3].map((top) => method(`head top${top} × 0.7/1/1.4 + det t0.1 top10 + whole`, { objectness: { top, minScore: 0.02, padding: 0.1, scales: [0.7, 1, 1.4] }, detector: { threshold: 0.1, top: 10 } })),
    ...[3].map((top) => method(`head top${top} × 0.7/1/1.4 + scda t1–3 top-3 + det t0.05 top10 + whole`, { objectness: { top, minScore: 0.02, padding: 0.1, scales: [0.7, 1, 1.4] }, scda: SCDA_T1_3, detector: { threshold: 0.05, top: 10 } })),
    ...[0.1].map((bonus) => method(`head top5 + det t0.05 top10 + whole, objectness bonus ${bonus}`, { objectness: { top: 5, minScore: 0.02, padding: 0.1 }, detector: { threshold: 0.05, top: 10 }, objectnessBonus: bonus })),
    ...[5, 8].map((keep) => method(`pooled keep ${keep} of (scda t1–3 top-3 + det t0.05 top10 + ss pooled keep 8) + whole`, { scda: SCDA_T1_3, detector: { threshold: 0.05, top: 10 }, selective: { keep: 8 }, pooledAll: keep })),
  ];
}
