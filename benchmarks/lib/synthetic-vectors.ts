import { seededRandom } from '../../core/random';
import { row } from './embed';
import { percentile } from './report';

/**
 * Synthetic catalog vectors made from real ones, for benchmarks at catalog sizes that cannot be embedded on 2 cores,
 * and the check that they are shaped like real ones (how far each product's nearest neighbour is).
 */

/** Gaussian noise from a seeded uniform source (Box–Muller). */
export function gaussian(random: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const value = spare;
      spare = null;
      return value;
    }
    const u = Math.max(random(), 1e-12);
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/** A unit vector at about `cosine` to `base` (unit): base + noise of norm tan(acos(cosine)), normalised. */
export function near(base: Float32Array, cosine: number, noise: () => number): number[] {
  const sigma = Math.tan(Math.acos(cosine)) / Math.sqrt(base.length);
  const out = new Array<number>(base.length);
  let norm = 0;
  for (let d = 0; d < base.length; d++) {
    const value = base[d]! + sigma * noise();
    out[d] = value;
    norm += value * value;
  }
  norm = Math.sqrt(norm);
  for (let d = 0; d < base.length; d++) out[d] = Math.round((out[d]! / norm) * 1e6) / 1e6;
  return out;
}

/**
 * search-latency's synthetic product: each model's vector of the real product `base` plus noise, at a cosine of
 * 0.55 – 0.95 to it (drawn per model).
 */
export function nearProduct(real: Record<string, Float32Array>, dims: Record<string, number>, base: number, random: () => number, noise: () => number): Record<string, number[]> {
  return Object.fromEntries(Object.keys(real).map((id) => [id, near(row(real[id]!, dims[id]!, base), 0.55 + random() * 0.4, noise)]));
}

/** The `k` most similar other rows of each row (cosine of unit rows), most similar first. */
export function nearestRows(matrix: Float32Array, dims: number, k: number): Array<Array<{ index: number; cosine: number }>> {
  const n = matrix.length / dims;
  const out: Array<Array<{ index: number; cosine: number }>> = [];
  for (let i = 0; i < n; i++) {
    const best: Array<{ index: number; cosine: number }> = [];
    const a = i * dims;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const b = j * dims;
      let dot = 0;
      for (let d = 0; d < dims; d++) dot += matrix[a + d]! * matrix[b + d]!;
      if (best.length < k || dot > best[best.length - 1]!.cosine) {
        best.push({ index: j, cosine: dot });
        best.sort((x, y) => y.cosine - x.cosine);
        if (best.length > k) best.pop();
      }
    }
    out.push(best);
  }
  return out;
}

/** Each row's cosine distance (1 − cosine) to its nearest other row. */
export function nearestNeighbourDistances(matrix: Float32Array, dims: number): number[] {
  return nearestRows(matrix, dims, 1).map((best) => 1 - (best[0]?.cosine ?? 0));
}

/** Cosine distance from each row of `rows` to its nearest row of `reference`. */
export function distancesToNearest(rows: Float32Array, reference: Float32Array, dims: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < rows.length / dims; i++) {
    const a = row(rows, dims, i);
    let best = -1;
    for (let j = 0; j < reference.length / dims; j++) {
      const b = j * dims;
      let dot = 0;
      for (let d = 0; d < dims; d++) dot += a[d]! * reference[b + d]!;
      if (dot > best) best = dot;
    }
    out.push(1 - best);
  }
  return out;
}

export interface GeneratorOptions {
  /** The real products' vectors, one row-major matrix per model (unit rows, the same products in the same order). */
  real: Record<string, Float32Array>;
  dims: Record<string, number>;
  /** Each real product's group (its category): a generated product varies the way its anchor's group varies. */
  groups: string[];
  /** The spread of a generated product around its anchor is drawn from [low, high] × the group's own spread. */
  spread: [number, number];
  /** A factor on the spread per model (1 where not given). */
  modelSpread: Record<string, number>;
  seed: number;
}

/** What a generator is, as recorded beside its results and in its cache key. */
export type GeneratorDescription = { method: 'group-gaussian'; spread: [number, number]; model_spread: Record<string, number>; seed: number };

/**
 * Generated products that lie where real products lie. Product `i` starts from a real product (its anchor, drawn at
 * random) and moves away from it along the directions in which the real products of the anchor's group (category)
 * differ: anchor + s · Σⱼ zⱼ (xⱼ − mean) / √n over the group's n real products xⱼ, with zⱼ standard normal, which is a
 * draw from a Gaussian with the group's own covariance, and s drawn from `spread` (times the model's factor). The
 * same zⱼ for every model, so that a generated product's models agree with each other as a real product's do.
 * Each product depends only on the seed and its number: a catalog of any size is a prefix of one sequence.
 *
 * Why not a real vector plus isotropic noise (search-latency's catalog): in 1,280 dimensions, noise strong enough to
 * make another product points away from every real product, in directions no photo varies in, and the colour model's
 * vectors, which all lie close together, are pushed 15 times further apart than real ones are. The check
 * (`shapeCheck`) measures both.
 */
export function groupGaussian(options: GeneratorOptions): {
  description: GeneratorDescription;
  /** Generated product `i`'s vectors. */
  product: (i: number) => Record<string, Float32Array>;
  /** The real product that generated product `i` starts from. */
  anchor: (i: number) => number;
} {
  const models = Object.keys(options.real);
  const count = options.groups.length;
  const names = [...new Set(options.groups)];
  const groupOf = options.groups.map((group) => names.indexOf(group));
  // Per group and model: the deviations of its real products from the group's mean, scaled by 1/√n.
  const deviations = names.map((_, g) => {
    const members = groupOf.flatMap((group, i) => (group === g ? [i] : []));
    return Object.fromEntries(
      models.map((model) => {
        const dims = options.dims[model]!;
        const mean = new Float32Array(dims);
        for (const i of members) for (let d = 0; d < dims; d++) mean[d] = mean[d]! + options.real[model]![i * dims + d]! / members.length;
        const out = new Float32Array(members.length * dims);
        members.forEach((i, j) => {
          for (let d = 0; d < dims; d++) out[j * dims + d] = (options.real[model]![i * dims + d]! - mean[d]!) / Math.sqrt(members.length);
        });
        return [model, out];
      }),
    );
  });
  // One stream per product (a Weyl step apart), so that product i never depends on the products before it.
  const stream = (i: number) => seededRandom((options.seed + Math.imul(i, 0x9e3779b1)) >>> 0);
  return {
    description: { method: 'group-gaussian', spread: options.spread, model_spread: options.modelSpread, seed: options.seed },
    anchor: (i) => Math.floor(stream(i)() * count),
    product(i) {
      const random = stream(i);
      const anchor = Math.floor(random() * count);
      const noise = gaussian(random);
      const spread = options.spread[0] + random() * (options.spread[1] - options.spread[0]);
      const group = deviations[groupOf[anchor]!]!;
      const members = group[models[0]!]!.length / options.dims[models[0]!]!;
      const z = Array.from({ length: members }, () => noise());
      const out: Record<string, Float32Array> = {};
      for (const model of models) {
        const dims = options.dims[model]!;
        const scale = spread * (options.modelSpread[model] ?? 1);
        const vector = Float32Array.from(row(options.real[model]!, dims, anchor));
        const deviation = group[model]!;
        for (let j = 0; j < members; j++) {
          const weight = scale * z[j]!;
          const offset = j * dims;
          for (let d = 0; d < dims; d++) vector[d] = vector[d]! + weight * deviation[offset + d]!;
        }
        let norm = 0;
        for (let d = 0; d < dims; d++) norm += vector[d]! * vector[d]!;
        norm = Math.sqrt(norm);
        for (let d = 0; d < dims; d++) vector[d] = vector[d]! / norm;
        out[model] = vector;
      }
      return out;
    },
  };
}

/** Percentiles reported for a distance distribution. */
export const SHAPE_PERCENTILES = [5, 25, 50, 75, 95];

/** The largest gap between two empirical distribution functions (the Kolmogorov–Smirnov statistic D). */
export function ksDistance(a: number[], b: number[]): number {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let best = 0;
  while (i < x.length && j < y.length) {
    const value = Math.min(x[i]!, y[j]!);
    while (i < x.length && x[i]! <= value) i++;
    while (j < y.length && y[j]! <= value) j++;
    best = Math.max(best, Math.abs(i / x.length - j / y.length));
  }
  return best;
}

export interface ShapeCheck {
  /** Per model: nearest-neighbour cosine distances among the real products, among as many generated ones, and from each generated one to the nearest real one. */
  distances: Record<string, { real: number[]; generated: number[]; generated_to_real: number[] }>;
  /** Per model: percentiles of each, and the KS distance between real and generated. */
  summary: Record<string, { real: number[]; generated: number[]; generated_to_real: number[]; ks: number }>;
}

/**
 * How close each product's nearest neighbour is, among the real products and among as many generated ones (the same
 * number, so that the two sets are equally dense only if they are shaped alike), and from the generated ones to the
 * nearest real one.
 */
export function shapeCheck(real: Record<string, Float32Array>, generated: Record<string, Float32Array>, dims: Record<string, number>): ShapeCheck {
  const distances: ShapeCheck['distances'] = {};
  const summary: ShapeCheck['summary'] = {};
  for (const model of Object.keys(real)) {
    const d = dims[model]!;
    const entry = { real: nearestNeighbourDistances(real[model]!, d), generated: nearestNeighbourDistances(generated[model]!, d), generated_to_real: distancesToNearest(generated[model]!, real[model]!, d) };
    distances[model] = entry;
    const at = (values: number[]) => SHAPE_PERCENTILES.map((p) => percentile(values, p));
    summary[model] = { real: at(entry.real), generated: at(entry.generated), generated_to_real: at(entry.generated_to_real), ks: ksDistance(entry.real, entry.generated) };
  }
  return { distances, summary };
}
