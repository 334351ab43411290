import type { ChannelImage } from './selective-search-segment';

/**
 * The second stage of Selective Search (Uijlings et al. 2013): the regions of a segmentation described by colour and
 * texture histograms, and merged greedily, the most similar pair of neighbours first, into a hierarchy whose every
 * region is a candidate box.
 */

export const SIMILARITIES = ['colour', 'texture', 'size', 'fill'] as const;
export type Similarity = (typeof SIMILARITIES)[number];

/** Per pixel and channel: its colour-histogram bin and its texture bin (orientation × magnitude). */
export interface PixelBins {
  colour: Uint16Array;
  texture: Uint16Array;
}

const COLOUR_BINS = 25;
const ORIENTATIONS = 8;
const MAGNITUDES = 10;
const COLOUR_LENGTH = 3 * COLOUR_BINS;
const TEXTURE_LENGTH = 3 * ORIENTATIONS * MAGNITUDES;

/** The colour (25 bins a channel) and texture (8 orientations × 10 magnitudes a channel) bin of each pixel. */
export function pixelBins(image: ChannelImage): PixelBins {
  const { width, height, values } = image;
  const n = width * height;
  const colour = new Uint16Array(n * 3);
  const texture = new Uint16Array(n * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const left = y * width + Math.max(0, x - 1);
      const right = y * width + Math.min(width - 1, x + 1);
      const up = Math.max(0, y - 1) * width + x;
      const down = Math.min(height - 1, y + 1) * width + x;
      for (let c = 0; c < 3; c++) {
        colour[p * 3 + c] = c * COLOUR_BINS + Math.min(COLOUR_BINS - 1, Math.floor((values[p * 3 + c]! * COLOUR_BINS) / 256));
        // Gradient direction and strength stand in for the paper's Gaussian derivatives in 8 orientations.
        const gx = values[right * 3 + c]! - values[left * 3 + c]!;
        const gy = values[down * 3 + c]! - values[up * 3 + c]!;
        const orientation = Math.min(ORIENTATIONS - 1, Math.floor(((Math.atan2(gy, gx) + Math.PI) / (2 * Math.PI)) * ORIENTATIONS));
        const magnitude = Math.min(MAGNITUDES - 1, Math.floor(Math.sqrt(Math.sqrt(gx * gx + gy * gy)) * 0.625));
        texture[p * 3 + c] = (c * ORIENTATIONS + orientation) * MAGNITUDES + magnitude;
      }
    }
  }
  return { colour, texture };
}

export interface Region {
  size: number;
  left: number;
  top: number;
  right: number;
  bottom: number;
  colour: Float32Array;
  texture: Float32Array;
}

/** The regions of a segmentation and each one's neighbours (by index). */
export interface InitialRegions {
  regions: Region[];
  neighbours: Array<Set<number>>;
}

const intersection = (a: Float32Array, b: Float32Array): number => {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.min(a[i]!, b[i]!);
  return sum;
};

function mergeRegions(a: Region, b: Region): Region {
  const size = a.size + b.size;
  const mix = (x: Float32Array, y: Float32Array): Float32Array => x.map((v, i) => (v * a.size + y[i]! * b.size) / size);
  return { size, left: Math.min(a.left, b.left), top: Math.min(a.top, b.top), right: Math.max(a.right, b.right), bottom: Math.max(a.bottom, b.bottom), colour: mix(a.colour, b.colour), texture: mix(a.texture, b.texture) };
}

/** A binary max-heap of region pairs by similarity; ties go to the older pair, so the order is deterministic. */
class PairHeap {
  private readonly items: Array<{ a: number; b: number; s: number; order: number }> = [];
  private next = 0;

  get size(): number {
    return this.items.length;
  }

  private better(i: number, j: number): boolean {
    const x = this.items[i]!;
    const y = this.items[j]!;
    return x.s > y.s || (x.s === y.s && x.order < y.order);
  }

  private swap(i: number, j: number): void {
    [this.items[i], this.items[j]] = [this.items[j]!, this.items[i]!];
  }

  push(a: number, b: number, s: number): void {
    this.items.push({ a, b, s, order: this.next++ });
    for (let i = this.items.length - 1; i > 0 && this.better(i, (i - 1) >> 1); i = (i - 1) >> 1) this.swap(i, (i - 1) >> 1);
  }

  pop(): { a: number; b: number } {
    const top = this.items[0]!;
    const last = this.items.pop()!;
    if (this.items.length > 0) {
      this.items[0] = last;
      for (let i = 0; ; ) {
        let best = i;
        for (const child of [2 * i + 1, 2 * i + 2]) if (child < this.items.length && this.better(child, best)) best = child;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}

/** The initial regions of a segmentation (histograms L1-normalised) and each one's neighbours. */
export function initialRegions(labels: Int32Array, count: number, width: number, height: number, bins: PixelBins): InitialRegions {
  const regions: Region[] = Array.from({ length: count }, () => ({ size: 0, left: width, top: height, right: 0, bottom: 0, colour: new Float32Array(COLOUR_LENGTH), texture: new Float32Array(TEXTURE_LENGTH) }));
  const neighbours: Array<Set<number>> = Array.from({ length: count }, () => new Set());
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const label = labels[p]!;
      const region = regions[label]!;
      region.size++;
      if (x < region.left) region.left = x;
      if (y < region.top) region.top = y;
      if (x + 1 > region.right) region.right = x + 1;
      if (y + 1 > region.bottom) region.bottom = y + 1;
      for (let c = 0; c < 3; c++) {
        region.colour[bins.colour[p * 3 + c]!]!++;
        region.texture[bins.texture[p * 3 + c]!]!++;
      }
      if (x + 1 < width && labels[p + 1] !== label) {
        neighbours[label]!.add(labels[p + 1]!);
        neighbours[labels[p + 1]!]!.add(label);
      }
      if (y + 1 < height && labels[p + width] !== label) {
        neighbours[label]!.add(labels[p + width]!);
        neighbours[labels[p + width]!]!.add(label);
      }
    }
  }
  for (const region of regions) {
    // L1-normalised over all channels, so that an intersection is at most 1.
    for (let i = 0; i < COLOUR_LENGTH; i++) region.colour[i]! /= 3 * region.size;
    for (let i = 0; i < TEXTURE_LENGTH; i++) region.texture[i]! /= 3 * region.size;
  }
  return { regions, neighbours };
}

/**
 * One hierarchy: the `initial` regions merged most similar neighbours first until one is left. Returns every
 * region's box (downscaled pixels, right/bottom exclusive) with its position: 1 for the last merge (the whole image),
 * larger for earlier ones, the initial regions last.
 */
export function groupHierarchy(initial: InitialRegions, width: number, height: number, similarities: readonly Similarity[]): Array<{ box: [number, number, number, number]; position: number }> {
  const regions = [...initial.regions];
  const neighbours = initial.neighbours.map((set) => new Set(set));
  const count = regions.length;
  const [useColour, useTexture, useSize, useFill] = SIMILARITIES.map((name) => similarities.includes(name));
  const area = width * height;
  const similarity = (a: Region, b: Region): number => {
    let s = 0;
    if (useColour) s += intersection(a.colour, b.colour);
    if (useTexture) s += intersection(a.texture, b.texture);
    if (useSize) s += 1 - (a.size + b.size) / area;
    if (useFill) s += 1 - ((Math.max(a.right, b.right) - Math.min(a.left, b.left)) * (Math.max(a.bottom, b.bottom) - Math.min(a.top, b.top)) - a.size - b.size) / area;
    return s;
  };
  const heap = new PairHeap();
  for (let a = 0; a < count; a++) for (const b of neighbours[a]!) if (a < b) heap.push(a, b, similarity(regions[a]!, regions[b]!));
  const alive = new Array<boolean>(count).fill(true);
  const created: number[] = [];
  while (heap.size > 0) {
    const { a, b } = heap.pop();
    if (!alive[a] || !alive[b]) continue;
    const id = regions.length;
    const merged = mergeRegions(regions[a]!, regions[b]!);
    regions.push(merged);
    alive[a] = alive[b] = false;
    alive.push(true);
    const around = new Set([...neighbours[a]!, ...neighbours[b]!]);
    around.delete(a);
    around.delete(b);
    neighbours.push(new Set());
    for (const other of around) {
      if (!alive[other]) continue;
      neighbours[other]!.add(id);
      neighbours[id]!.add(other);
      heap.push(other, id, similarity(regions[other]!, merged));
    }
    created.push(id);
  }
  const merges = created.length;
  return regions.map((r, id) => ({ box: [r.left, r.top, r.right, r.bottom], position: id < count ? merges + 1 : merges - (id - count) }));
}
