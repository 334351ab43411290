import path from 'node:path';
import { createProgress } from '../../core/progress';
import { seededRandom } from '../../core/random';
import { benchProduct } from './bench-index';
import type { DevSet } from './devset';
import { row } from './embed';
import { EXACT_OBJECT } from './knn-measure';
import { groupGaussian, type GeneratorDescription } from './synthetic-vectors';
import { RowFile, cacheKey } from './vector-cache';

/**
 * The catalog of the scale benchmark: the dev set's real products first (ids p0 … p<R−1>, their embedded photos),
 * then generated ones (`groupGaussian`) up to the size asked for. Generated vectors are written once under
 * .cache/catalog-scale/ and read back by later runs, a larger catalog extending the file of a smaller one.
 */

/** How generated products spread around their anchors; checked against the real ones by `shapeCheck`. */
export const GENERATOR = { spread: [0.35, 1.1] as [number, number], modelSpread: { 'colour-texture': 0.5 }, seed: 2026 };

/** Rows generated and appended at a time. */
const CHUNK = 1000;

export interface ScaleCatalog {
  /** Real products: p0 … p<real − 1>. */
  real: number;
  generator: GeneratorDescription;
  /** Rows on disk (all products, real ones first), per model. */
  files: Record<string, RowFile>;
  /** Makes sure the files hold at least `count` products; seconds spent generating. */
  extend(count: number): number;
  /** Product `i` as the indexer would write it, with its exact copies. Reads in chunks: call in increasing order. */
  document(i: number): Record<string, unknown>;
  /** The dev-set item a product shows (its own, or its anchor's for a generated one). */
  item(i: number): DevSet['catalog'][number];
}

export function scaleCatalog(devset: DevSet, real: Record<string, Float32Array>, dims: Record<string, number>, cacheDirectory: string): ScaleCatalog {
  const count = devset.catalog.length;
  const generator = groupGaussian({ real, dims, groups: devset.catalog.map((item) => item.category), spread: GENERATOR.spread, modelSpread: GENERATOR.modelSpread, seed: GENERATOR.seed });
  const models = Object.keys(real);
  const key = cacheKey({ generator: generator.description, real: models.map((id) => cacheKey(Array.from(real[id]!))) });
  const files = Object.fromEntries(models.map((id) => [id, RowFile.open(path.join(cacheDirectory, `generated-${key}`, id), key, dims[id]!)]));
  const chunks = new Map<string, { from: number; rows: Float32Array }>();
  const readRow = (id: string, i: number): Float32Array => {
    let chunk = chunks.get(id);
    if (!chunk || i < chunk.from || i >= chunk.from + chunk.rows.length / dims[id]!) {
      chunk = { from: i, rows: files[id]!.read(i, CHUNK) };
      chunks.set(id, chunk);
    }
    return row(chunk.rows, dims[id]!, i - chunk.from);
  };
  // JSON of 6 decimals: a unit vector's components are about 0.03, so the rounding is far below int8 quantization.
  const json = (vector: Float32Array) => Array.from(vector, (value) => Math.round(value * 1e6) / 1e6);
  const item = (i: number) => devset.catalog[i < count ? i : generator.anchor(i)]!;
  return {
    real: count,
    generator: generator.description,
    files,
    extend(target) {
      const have = Math.min(...models.map((id) => files[id]!.rows));
      if (have >= target) return 0;
      const started = Date.now();
      const bar = createProgress(`generated vectors: ${have} → ${target}`);
      for (let from = have; from < target; from += CHUNK) {
        const to = Math.min(target, from + CHUNK);
        const out = Object.fromEntries(models.map((id) => [id, new Float32Array((to - from) * dims[id]!)]));
        for (let i = from; i < to; i++) {
          const vectors = i < count ? Object.fromEntries(models.map((id) => [id, row(real[id]!, dims[id]!, i)])) : generator.product(i);
          for (const id of models) out[id]!.set(vectors[id]!, (i - from) * dims[id]!);
        }
        for (const id of models) files[id]!.append(out[id]!);
        bar.update(to - have, target - have);
      }
      bar.done();
      return (Date.now() - started) / 1000;
    },
    document(i) {
      const vectors = Object.fromEntries(models.map((id) => [id, json(readRow(id, i))]));
      // The attributes of product i depend on i alone, so that a resumed load writes the same documents.
      const random = seededRandom((GENERATOR.seed + 1 + Math.imul(i, 0x85ebca6b)) >>> 0);
      return { ...benchProduct(i, item(i), vectors, random), [EXACT_OBJECT]: vectors };
    },
    item,
  };
}
