import type { CropBox } from '../../core/image/autocrop';
import type { FeatureMaps } from './feature-map';
import { iou, padBox } from './localize';
import { search, type CatalogIndex } from './region-search';

/**
 * Catalog-guided localisation on the feature map: every cell-aligned rectangle of the map is a candidate region; its
 * vector is the mean of the map's cells inside it (the model's own global pooling, restricted to the rectangle), and
 * its score is its best cosine with a catalog item. No model run per region: one feature-map pass, then
 *   score(box, item) = Σ_{cells ∈ box} ⟨F_cell, item⟩ / ‖Σ_{cells ∈ box} F_cell‖,
 * with both sums read from integral images, so all rectangles cost (cells × items × channels) + (boxes × items).
 * Items are the whole catalog (the upper bound) or a shortlist: the best `shortlist` items for the whole photo's
 * pooled vector (what one search returns).
 */
export interface DenseOptions {
  /** Smallest rectangle, in cells (area). */
  minCells: number;
  /** Largest rectangle, as a share of the map's area. */
  maxShare: number;
  /** Longest side ÷ shortest side at most. */
  maxAspect: number;
  /** Score against the best `shortlist` items for the whole photo (0: the whole catalog). */
  shortlist: number;
  padding: number;
}

export interface DenseRegion {
  box: CropBox;
  item: number;
  score: number;
}

/** Integral image of `values` (h × w, row-major) as (h + 1) × (w + 1). */
function integral(values: Float32Array | Float64Array, offset: number, width: number, height: number, out: Float64Array, outOffset: number): void {
  const stride = width + 1;
  for (let y = 0; y < height; y++) {
    let row = 0;
    for (let x = 0; x < width; x++) {
      row += values[offset + y * width + x]!;
      out[outOffset + (y + 1) * stride + x + 1] = out[outOffset + y * stride + x + 1]! + row;
    }
  }
}

const boxSum = (table: Float64Array, offset: number, stride: number, x0: number, y0: number, x1: number, y1: number): number =>
  table[offset + y1 * stride + x1]! - table[offset + y0 * stride + x1]! - table[offset + y1 * stride + x0]! + table[offset + y0 * stride + x0]!;

/** The best-scoring rectangles, best first, each with its best item; at most `limit`, overlapping by IoU < 0.3. */
export function denseRegions(maps: FeatureMaps, index: CatalogIndex, image: { width: number; height: number }, options: DenseOptions, limit: number): DenseRegion[] {
  const { width, height, channels, features } = maps;
  const cells = width * height;
  const stride = width + 1;
  const tableSize = (width + 1) * (height + 1);
  let items: number[];
  if (options.shortlist > 0) {
    const whole = new Float32Array(channels);
    for (let c = 0; c < channels; c++) for (let i = 0; i < cells; i++) whole[c]! += features[c * cells + i]!;
    let norm = 0;
    for (const v of whole) norm += v * v;
    for (let c = 0; c < channels; c++) whole[c]! /= Math.sqrt(norm) || 1;
    items = search(index, { semantic: whole, colour: new Float32Array(index.colourDims) }, options.shortlist, 1).map((h) => h.item);
  } else {
    items = index.ids.map((_, i) => i);
  }
  // ⟨F_cell, item⟩ for every cell and item, then one integral image per item.
  const dots = new Float64Array(items.length * cells);
  for (const [k, item] of items.entries()) {
    const vector = index.semantic.subarray(item * index.semanticDims, (item + 1) * index.semanticDims);
    for (let c = 0; c < channels; c++) {
      const weight = vector[c]!;
      if (weight === 0) continue;
      const base = c * cells;
      for (let i = 0; i < cells; i++) dots[k * cells + i]! += weight * features[base + i]!;
    }
  }
  const dotTables = new Float64Array(items.length * tableSize);
  for (let k = 0; k < items.length; k++) integral(dots, k * cells, width, height, dotTables, k * tableSize);
  const featureTables = new Float64Array(channels * tableSize);
  for (let c = 0; c < channels; c++) integral(features, c * cells, width, height, featureTables, c * tableSize);

  const candidates: DenseRegion[] = [];
  for (let y0 = 0; y0 < height; y0++) {
    for (let y1 = y0 + 1; y1 <= height; y1++) {
      for (let x0 = 0; x0 < width; x0++) {
        for (let x1 = x0 + 1; x1 <= width; x1++) {
          const w = x1 - x0;
          const h = y1 - y0;
          if (w * h < options.minCells || w * h > options.maxShare * cells || Math.max(w, h) > options.maxAspect * Math.min(w, h)) continue;
          let norm = 0;
          for (let c = 0; c < channels; c++) {
            const s = boxSum(featureTables, c * tableSize, stride, x0, y0, x1, y1);
            norm += s * s;
          }
          norm = Math.sqrt(norm) || 1;
          let best = -Infinity;
          let bestItem = -1;
          for (let k = 0; k < items.length; k++) {
            const score = boxSum(dotTables, k * tableSize, stride, x0, y0, x1, y1) / norm;
            if (score > best) [best, bestItem] = [score, items[k]!];
          }
          const sx = image.width / width;
          const sy = image.height / height;
          const box = { left: Math.round(x0 * sx), top: Math.round(y0 * sy), width: Math.round(x1 * sx) - Math.round(x0 * sx), height: Math.round(y1 * sy) - Math.round(y0 * sy) };
          candidates.push({ box: padBox(box, options.padding, image.width, image.height), item: bestItem, score: best });
        }
      }
    }
  }
  candidates.sort((a, b) => b.score - a.score);
  const kept: DenseRegion[] = [];
  for (const region of candidates) {
    if (kept.length >= limit) break;
    if (kept.some((k) => k.item === region.item || iou(k.box, region.box) >= 0.3)) continue;
    kept.push(region);
  }
  return kept;
}
