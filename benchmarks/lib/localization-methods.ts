import type { CropBox } from '../../core/image/autocrop';
import { trimBox } from '../../core/image/autocrop';
import type { DecodedImage } from '../../core/image/decode';
import { statistic, type FeatureMaps, type Statistic } from './feature-map';
import { gridBoxes, iou, padBox, scdaRegions, type ScdaOptions } from './localize';
import { denseRegions, type DenseOptions } from './dense-localize';
import type { CatalogIndex, Hit } from './region-search';

/**
 * The localisation methods compared by benchmarks/localization.ts. A method proposes candidate regions of a query
 * (boxes in the working image's pixels; null = the whole image) and, once each candidate has been searched, chooses
 * the regions it returns, the primary one first (the photo search uses the primary; `objects` returns them all).
 */
export interface QueryContext {
  id: string;
  image: DecodedImage;
  /** Feature maps by model input size (long side, px), computed on demand. */
  maps: Map<number, FeatureMaps>;
  /** Ground-truth boxes of the catalog products in the photo, in the working image's pixels. */
  products: CropBox[];
  /** The box libvips' attention strategy picks (the `attention` autocrop), precomputed. */
  attention: CropBox | null;
}

export interface Method {
  name: string;
  /** Feature-map sizes the method needs. */
  mapSizes: number[];
  /** Computes what `candidates` needs beyond the maps (detector boxes, Selective Search), once per query. */
  prepare?(queries: QueryContext[]): Promise<void>;
  candidates(query: QueryContext): Array<CropBox | null>;
  /**
   * Candidates are first ranked by their vector pooled from the feature map at `size` (semantic part only, no model
   * run; against the whole catalog, or the `shortlist` best items for the whole photo); only the best `keep` distinct
   * ones are embedded and chosen from.
   */
  pooled?: { size: number; keep: number; shortlist?: number };
  /**
   * Zoom: the `top` regions with the best first results are looked at again: the region (with `margin` around it)
   * gets its own feature map at `size` px, SCDA (sum, each threshold) finds the object inside it, and those tighter
   * boxes are searched too before the choice.
   */
  refine?: RefineOptions;
  /** Indices into the candidates of the returned regions, primary first. */
  choose(query: QueryContext, hits: Hit[][], boxes: Array<CropBox | null>): number[];
}

const first = (): number[] => [0];

const top1 = (hits: Hit[]): number => hits[0]!.score;
const gap = (hits: Hit[]): number => hits[0]!.score - hits[1]!.score;

/** Candidates ranked by `criterion`, best first. */
const ranked = (hits: Hit[][], criterion: (hits: Hit[]) => number): number[] =>
  hits.map((_, i) => i).sort((a, b) => criterion(hits[b]!) - criterion(hits[a]!));

export type Criterion = 'top1' | 'gap';
const criteria: Record<Criterion, (hits: Hit[]) => number> = { top1, gap };

/**
 * Returned objects for `objects`: candidates best first (by `criterion`), each kept when its first result is not
 * already returned, it overlaps no kept region by IoU ≥ 0.5 and its top-1 score is within `margin` of the best one's.
 */
export function chooseObjects(hits: Hit[][], boxes: Array<CropBox | null>, whole: CropBox, criterion: Criterion, margin: number, maxObjects: number): number[] {
  const order = ranked(hits, criteria[criterion]);
  const best = top1(hits[order[0]!]!);
  const kept: number[] = [];
  for (const i of order) {
    if (kept.length >= maxObjects) break;
    if (top1(hits[i]!) < best - margin) continue;
    if (kept.some((k) => hits[k]![0]!.item === hits[i]![0]!.item)) continue;
    const box = boxes[i] ?? whole;
    if (kept.some((k) => iou(boxes[k] ?? whole, box) >= 0.5)) continue;
    kept.push(i);
  }
  return kept;
}

const wholeBox = (q: QueryContext): CropBox => ({ left: 0, top: 0, width: q.image.width, height: q.image.height });

/** Where SCDA looks: the map at `size` px and its statistic, thresholded and padded as `ScdaOptions` say. */
export interface ScdaSpec extends ScdaOptions {
  size: number;
  statistic: Statistic;
}

export const scdaName = (spec: ScdaSpec): string => `${spec.statistic} ${spec.size}px t${spec.threshold} u${spec.upsample} pad${spec.padding}`;

function scdaBoxes(q: QueryContext, spec: ScdaSpec, count: number): CropBox[] {
  const maps = q.maps.get(spec.size);
  if (!maps) throw new Error(`no ${spec.size} px map for ${q.id}`);
  const regions = scdaRegions(statistic(maps, spec.statistic), q.image.width, q.image.height, spec);
  return regions.slice(0, count).map((r) => r.box);
}

/** One box: SCDA's strongest connected region (null when nothing is above the threshold). */
export function scdaMethod(spec: ScdaSpec): Method {
  return { name: `scda ${scdaName(spec)}`, mapSizes: [spec.size], candidates: (q) => [scdaBoxes(q, spec, 1)[0] ?? null], choose: first };
}

/** Today's service: trim (a uniform border), else the whole image. */
export const trimMethod: Method = { name: 'trim (today)', mapSizes: [], candidates: (q) => [trimBox(q.image)], choose: first };
export const wholeMethod: Method = { name: 'whole image', mapSizes: [], candidates: () => [null], choose: first };
export const attentionMethod: Method = { name: 'attention', mapSizes: [], candidates: (q) => [q.attention], choose: first };

/** The ceiling: the true boxes with a 5 % margin (single-object queries: the product's). */
export const handMethod: Method = {
  name: 'hand crop (ground truth)',
  mapSizes: [],
  candidates: (q) => q.products.map((box) => padBox(box, 0.05, q.image.width, q.image.height)),
  choose: (q) => q.products.map((_, i) => i),
};

/** Trim when the photo has a uniform border (a product on a plain background), else the SCDA box. */
export function trimElseScda(spec: ScdaSpec): Method {
  return { name: `trim, else scda ${scdaName(spec)}`, mapSizes: [spec.size], candidates: (q) => [trimBox(q.image) ?? scdaBoxes(q, spec, 1)[0] ?? null], choose: first };
}

export interface RefineOptions {
  top: number;
  size: number;
  margin: number;
  thresholds: number[];
  padding: number;
}

export interface ProposalOptions {
  /** SCDA regions: the strongest `count` of each. */
  scda: Array<ScdaSpec & { count: number }>;
  /** Multi-scale grid levels ([fraction of the short side, n × n lattice]). */
  grid: Array<[number, number]>;
  whole: boolean;
  trim: boolean;
  criterion: Criterion;
  /** For `objects`: keep regions whose top-1 score is within this of the best. */
  margin: number;
  maxObjects: number;
  /** Keep the whole photo as the primary unless a region's top-1 score beats the whole photo's by this much. */
  wholeMargin?: number;
  /** Rank the candidates by vectors pooled from the map first (see Method.pooled). */
  pooled?: { size: number; keep: number; shortlist?: number };
  refine?: RefineOptions;
}

/** Several candidate regions, each searched; the one whose best match is strongest is the primary. */
export function proposalMethod(name: string, options: ProposalOptions): Method {
  return {
    name,
    mapSizes: [...new Set([...options.scda.map((s) => s.size), ...(options.pooled ? [options.pooled.size] : [])])],
    ...(options.pooled ? { pooled: options.pooled } : {}),
    ...(options.refine ? { refine: options.refine } : {}),
    candidates: (q) => {
      const boxes: Array<CropBox | null> = [];
      const trimmed = options.trim ? trimBox(q.image) : null;
      if (trimmed) boxes.push(trimmed);
      if (options.whole) boxes.push(null);
      for (const spec of options.scda) boxes.push(...scdaBoxes(q, spec, spec.count));
      boxes.push(...gridBoxes(q.image.width, q.image.height, options.grid));
      // Near-identical boxes cost an embedding and add nothing.
      return boxes.filter((box, i) => boxes.findIndex((other) => (box === null ? other === null : other !== null && iou(box, other) > 0.9)) === i);
    },
    choose: (q, hits, boxes) => {
      const chosen = chooseObjects(hits, boxes, wholeBox(q), options.criterion, options.margin, options.maxObjects);
      // The whole photo stays the primary unless a region's first result beats it by `wholeMargin`.
      const whole = boxes.indexOf(null);
      if (!options.wholeMargin || whole < 0 || chosen[0] === whole || top1(hits[chosen[0]!]!) >= top1(hits[whole]!) + options.wholeMargin) return chosen;
      return [whole, ...chosen.filter((c) => c !== whole)];
    },
  };
}

/** `objects` without catalog scoring: the strongest SCDA regions with at least `minMass` of the activation. */
export function scdaObjectsMethod(spec: ScdaSpec, maxObjects: number, minMass: number): Method {
  return {
    name: `scda regions ${scdaName(spec)} (mass ≥ ${minMass})`,
    mapSizes: [spec.size],
    candidates: (q) => {
      const maps = q.maps.get(spec.size)!;
      const regions = scdaRegions(statistic(maps, spec.statistic), q.image.width, q.image.height, spec).filter((r, i) => i === 0 || r.mass >= minMass);
      return regions.length > 0 ? regions.slice(0, maxObjects).map((r) => r.box) : [null];
    },
    choose: (_q, hits) => hits.map((_, i) => i),
  };
}

/**
 * Catalog-guided rectangles on the feature map (dense-localize.ts): the best `keep` rectangles (distinct best items,
 * dense score within `denseMargin` of the best) are embedded; the primary is the one whose real top-1 score is best.
 */
export function denseMethod(index: CatalogIndex, size: number, options: DenseOptions, keep: number, denseMargin: number): Method {
  const shortlist = options.shortlist > 0 ? `shortlist ${options.shortlist}` : 'whole catalog';
  return {
    name: `dense ${size}px ${shortlist} min${options.minCells} pad${options.padding} keep ${keep}`,
    mapSizes: [size],
    candidates: (q) => {
      const regions = denseRegions(q.maps.get(size)!, index, q.image, options, keep);
      return regions.filter((r) => r.score >= regions[0]!.score - denseMargin).map((r) => r.box);
    },
    choose: (q, hits, boxes) => chooseObjects(hits, boxes, wholeBox(q), 'top1', 0.1, keep),
  };
}

/** Trim when the photo has a uniform border (a product on a plain background: today's crop, kept), else `method`. */
export function trimElse(method: Method): Method {
  const trimmed = new WeakMap<QueryContext, boolean>();
  return {
    ...method,
    name: `trim, else ${method.name}`,
    candidates: (q) => {
      const box = trimBox(q.image);
      trimmed.set(q, box !== null);
      return box ? [box] : method.candidates(q);
    },
    choose: (q, hits, boxes) => (trimmed.get(q) && boxes.length === 1 ? [0] : method.choose(q, hits, boxes)),
  };
}
