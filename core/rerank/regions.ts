import type { CropBox } from '../image/autocrop';
import type { FeatureMap } from '../localization/feature-map';
import { channelSums } from '../localization/regions';
import { seededRandom } from '../random';

/**
 * Region descriptors: what a photo looks like cell by cell, for the precision stage that global embeddings lack (a
 * close-up of a part of an item and the whole item have nearly the same global vector; their cells do not match).
 *
 * The input is the embedding model's last convolutional feature map of the photo as it was embedded (7 × 7 cells of
 * 1,280 channels for EfficientNet-Lite0 at 224 px). Each cell is reduced to `dims` values by a very sparse random
 * projection (Li, Hastie and Church 2006: each output sums about channels ÷ 32 inputs with random signs; a fixed seed
 * makes it the same in every process, no trained weights), L2-normalised and quantized to int8; each cell also keeps
 * its weight (the sum of its activations, where the network sees something, as a share of the largest, in 1/255).
 * 49 cells × 128 dims: 6,323 bytes with the header, 8.4 kB as base64.
 *
 * The similarity of a candidate to a query is the candidate's cells, weighted, each matched to its most similar
 * query cell (a weighted Chamfer similarity): a close-up's cells show its part enlarged, and match the whole item's
 * cells worse than the item's own photo does. Chosen by measurement (benchmarks/rerank.ts).
 */

export interface RegionDescriptor {
  cells: number;
  dims: number;
  /** Per cell, its weight in 1/255 of the largest. */
  weights: Uint8Array;
  /** Per cell, `dims` int8 values: the unit vector × 127. */
  vectors: Int8Array;
}

export interface RegionProjection {
  channels: number;
  dims: number;
  /** Per output dimension, the channels it adds (`plus`) and subtracts (`minus`). */
  plus: Uint16Array[];
  minus: Uint16Array[];
}

/** Descriptor values per cell, and the projection's density and seed: part of what a stored descriptor means. */
export const REGION_DIMS = 128;
const DENSITY = 1 / 32;
const SEED = 0x5eed_0013;
/** The first byte of an encoded descriptor; another layout gets another number. */
const FORMAT = 1;
const HEADER = 4;

/** The fixed sparse random projection from `channels` to `dims` (the same for the same arguments, in any process). */
export function regionProjection(channels: number, dims: number = REGION_DIMS, seed: number = SEED): RegionProjection {
  const random = seededRandom(seed ^ (channels * 65_537) ^ dims);
  const plus: Uint16Array[] = [];
  const minus: Uint16Array[] = [];
  for (let d = 0; d < dims; d++) {
    const p: number[] = [];
    const m: number[] = [];
    for (let c = 0; c < channels; c++) {
      const u = random();
      if (u < DENSITY / 2) p.push(c);
      else if (u < DENSITY) m.push(c);
    }
    plus.push(Uint16Array.from(p));
    minus.push(Uint16Array.from(m));
  }
  return { channels, dims, plus, minus };
}

/**
 * The descriptor of one image's feature map, channels first (`map[c · cells + i]` from `offset`: one image of a
 * batch [N, C, H, W] starts at n · C · H · W).
 */
export function describeRegions(map: Float32Array, cells: number, projection: RegionProjection, offset = 0): RegionDescriptor {
  const { channels, dims, plus, minus } = projection;
  if (cells < 1 || cells > 255) throw new RangeError(`a feature map of ${cells} cells cannot be described (1–255)`);
  if (map.length < offset + channels * cells) throw new RangeError(`the feature map holds ${map.length - offset} values, not ${channels} × ${cells}`);
  const sums = channelSums(map, channels, cells, offset);
  const largest = Math.max(...sums, 0);
  const weights = Uint8Array.from(sums, (sum) => (largest > 0 ? Math.round((Math.max(0, sum) / largest) * 255) : 255));
  const vectors = new Int8Array(cells * dims);
  const projected = new Float64Array(dims);
  for (let i = 0; i < cells; i++) {
    let norm = 0;
    for (let d = 0; d < dims; d++) {
      let value = 0;
      for (const c of plus[d]!) value += map[offset + c * cells + i]!;
      for (const c of minus[d]!) value -= map[offset + c * cells + i]!;
      projected[d] = value;
      norm += value * value;
    }
    const scale = norm > 0 ? 127 / Math.sqrt(norm) : 0;
    for (let d = 0; d < dims; d++) vectors[i * dims + d] = Math.round(projected[d]! * scale);
  }
  return { cells, dims, weights, vectors };
}

const projections = new Map<number, RegionProjection>();

/**
 * The descriptor of one image's feature map as a model run gives it (channels first, `cells` per channel), with the
 * fixed projection for its channel count (made once per process).
 */
export function describeFeatureMap(map: { features: Float32Array; cells: number }): RegionDescriptor {
  const channels = map.features.length / map.cells;
  if (!Number.isInteger(channels)) throw new RangeError(`a feature map of ${map.features.length} values is not ${map.cells} cells of whole channels`);
  let projection = projections.get(channels);
  if (!projection) projections.set(channels, (projection = regionProjection(channels)));
  return describeRegions(map.features, map.cells, projection);
}

/**
 * The feature map of the part `box` of an image (pixels of an image `imageWidth` × `imageHeight`), read from the map of
 * the whole image instead of a model run of the part: `side` × `side` cells, each the mean of bilinear samples of the
 * whole image's map over the cell (several per cell where the box spans more map cells than `side`). What a run of the
 * cropped part at `side` cells gives, with the coarser view of the whole image's map (its cells are larger than a
 * crop's when the box is small). Channels first, as describeFeatureMap takes it.
 */
export function featureMapInBox(map: Pick<FeatureMap, 'width' | 'height' | 'channels' | 'features'>, imageWidth: number, imageHeight: number, box: CropBox, side = 7): { features: Float32Array; cells: number } {
  const { width, height, channels, features } = map;
  const plane = width * height;
  const cellX = imageWidth / width;
  const cellY = imageHeight / height;
  // Samples per output cell and axis: enough that no map cell the box covers is skipped.
  const samples = Math.max(1, Math.ceil(box.width / cellX / side), Math.ceil(box.height / cellY / side));
  const out = new Float32Array(channels * side * side);
  const share = 1 / (samples * samples);
  const clamp = (value: number, most: number) => Math.min(most, Math.max(0, value));
  for (let oy = 0; oy < side; oy++) {
    for (let ox = 0; ox < side; ox++) {
      const cell = oy * side + ox;
      for (let sy = 0; sy < samples; sy++) {
        for (let sx = 0; sx < samples; sx++) {
          // The sample's place in map cells (cell centres at integer + 0.5).
          const u = clamp((box.left + ((ox + (sx + 0.5) / samples) * box.width) / side) / cellX - 0.5, width - 1);
          const v = clamp((box.top + ((oy + (sy + 0.5) / samples) * box.height) / side) / cellY - 0.5, height - 1);
          const x0 = Math.floor(u);
          const y0 = Math.floor(v);
          const x1 = Math.min(width - 1, x0 + 1);
          const y1 = Math.min(height - 1, y0 + 1);
          const fx = u - x0;
          const fy = v - y0;
          const w00 = (1 - fx) * (1 - fy) * share;
          const w01 = fx * (1 - fy) * share;
          const w10 = (1 - fx) * fy * share;
          const w11 = fx * fy * share;
          const i00 = y0 * width + x0;
          const i01 = y0 * width + x1;
          const i10 = y1 * width + x0;
          const i11 = y1 * width + x1;
          for (let c = 0, base = 0, at = cell; c < channels; c++, base += plane, at += side * side) {
            out[at] = out[at]! + w00 * features[base + i00]! + w01 * features[base + i01]! + w10 * features[base + i10]! + w11 * features[base + i11]!;
          }
        }
      }
    }
  }
  return { features: out, cells: side * side };
}

/** The stored form (base64 of: format, cells, dims as uint16 LE, the weights, the vectors). */
export function encodeRegions(descriptor: RegionDescriptor): string {
  const bytes = Buffer.alloc(HEADER + descriptor.cells + descriptor.cells * descriptor.dims);
  bytes[0] = FORMAT;
  bytes[1] = descriptor.cells;
  bytes.writeUInt16LE(descriptor.dims, 2);
  bytes.set(descriptor.weights, HEADER);
  bytes.set(new Uint8Array(descriptor.vectors.buffer, descriptor.vectors.byteOffset, descriptor.vectors.byteLength), HEADER + descriptor.cells);
  return bytes.toString('base64');
}

/** A stored descriptor read back; null when it is not one this version can read (another format or a damaged value). */
export function decodeRegions(encoded: string): RegionDescriptor | null {
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.length < HEADER || bytes[0] !== FORMAT) return null;
  const cells = bytes[1]!;
  const dims = bytes.readUInt16LE(2);
  if (cells < 1 || dims < 1 || bytes.length !== HEADER + cells + cells * dims) return null;
  const weights = Uint8Array.from(bytes.subarray(HEADER, HEADER + cells));
  const vectors = new Int8Array(Uint8Array.from(bytes.subarray(HEADER + cells)).buffer);
  return { cells, dims, weights, vectors };
}

/** The int8 values as float32 (exact: every product and sum of them stays below 2^24), kept per descriptor. */
const asFloat = new WeakMap<RegionDescriptor, Float32Array>();
function floats(descriptor: RegionDescriptor): Float32Array {
  let values = asFloat.get(descriptor);
  if (!values) asFloat.set(descriptor, (values = Float32Array.from(descriptor.vectors)));
  return values;
}

/** One cell's values against another's: four sums side by side, 1.5 times as fast as one running sum. */
function cellDot(a: Float32Array, aBase: number, b: Float32Array, bBase: number, dims: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let d = 0;
  for (; d + 3 < dims; d += 4) {
    s0 += a[aBase + d]! * b[bBase + d]!;
    s1 += a[aBase + d + 1]! * b[bBase + d + 1]!;
    s2 += a[aBase + d + 2]! * b[bBase + d + 2]!;
    s3 += a[aBase + d + 3]! * b[bBase + d + 3]!;
  }
  for (; d < dims; d++) s0 += a[aBase + d]! * b[bBase + d]!;
  return s0 + s1 + s2 + s3;
}

/**
 * The weight (of 255) below which a candidate's cell is not compared: where the network sees little (the white around
 * a catalog photo's item). A fifth fewer comparisons, and recall@1 on the hard-negative dev set 0.874 → 0.881 at
 * depth 10 (benchmarks/results/rerank.md measures the service's stage with it).
 */
export const MIN_CELL_WEIGHT = 32;

/**
 * How well `candidate`'s cells are found in `query`: per candidate cell of weight MIN_CELL_WEIGHT or more, the cosine
 * of its most similar query cell, averaged with the candidate's cell weights; in [−1, 1]. NaN when the two were
 * described differently (dims).
 */
export function regionSimilarity(query: RegionDescriptor, candidate: RegionDescriptor): number {
  // int8 cells (rounded to 127ths) of the same photo can match at a little over 1.
  return query.dims === candidate.dims ? Math.min(1, Math.max(-1, matches(candidate, query, false, MIN_CELL_WEIGHT).all)) : Number.NaN;
}

/** What the precision stage may weigh about one candidate against the query (see regionFeatures). */
export interface RegionFeatures {
  /** regionSimilarity(query, candidate): the candidate's cells found in the query. */
  candidateInQuery: number;
  /** The query's cells found in the candidate (weighted by the query's cells). */
  queryInCandidate: number;
  /** As the two above, counting a match only where it lies within 2.5 cells of the same place in the other grid. */
  candidateInQueryInPlace: number;
  queryInCandidateInPlace: number;
  /** The candidate's mean cell weight less the query's: a close-up fills its frame. */
  spread: number;
}

const IN_PLACE_CELLS = 2.5;

/**
 * Weighted best matches of `from`'s cells (those of weight `minWeight` or more) among `to`'s: plain, and (`inPlace`)
 * only where the best match lies in place.
 */
function matches(from: RegionDescriptor, to: RegionDescriptor, inPlace = true, minWeight = 1): { all: number; inPlace: number } {
  const { dims } = from;
  const a = floats(from);
  const b = floats(to);
  const side = Math.round(Math.sqrt(from.cells));
  const square = inPlace && side * side === from.cells && from.cells === to.cells;
  let all = 0;
  let placed = 0;
  let weightSum = 0;
  for (let i = 0; i < from.cells; i++) {
    const weight = from.weights[i]!;
    if (weight < minWeight) continue;
    let best = -Infinity;
    let at = 0;
    for (let j = 0; j < to.cells; j++) {
      const dot = cellDot(a, i * dims, b, j * dims, dims);
      if (dot > best) {
        best = dot;
        at = j;
      }
    }
    all += weight * best;
    if (square && Math.hypot((i % side) - (at % side), Math.floor(i / side) - Math.floor(at / side)) <= IN_PLACE_CELLS) placed += weight * best;
    weightSum += weight;
  }
  const scale = weightSum > 0 ? 1 / weightSum / (127 * 127) : 0;
  return { all: all * scale, inPlace: square ? placed * scale : Number.NaN };
}

/** The features of one candidate against the query; NaN throughout when they were described differently. */
export function regionFeatures(query: RegionDescriptor, candidate: RegionDescriptor): RegionFeatures {
  if (query.dims !== candidate.dims) return { candidateInQuery: NaN, queryInCandidate: NaN, candidateInQueryInPlace: NaN, queryInCandidateInPlace: NaN, spread: NaN };
  const forward = matches(candidate, query);
  const backward = matches(query, candidate);
  const meanWeight = (d: RegionDescriptor) => d.weights.reduce((sum, w) => sum + w, 0) / (255 * d.cells);
  return { candidateInQuery: forward.all, queryInCandidate: backward.all, candidateInQueryInPlace: forward.inPlace, queryInCandidateInPlace: backward.inPlace, spread: meanWeight(candidate) - meanWeight(query) };
}
