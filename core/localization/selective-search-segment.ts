/**
 * The first stage of Selective Search: a small RGB image converted to a colour space, smoothed, and cut into regions
 * by Felzenszwalb and Huttenlocher's graph segmentation ("Efficient Graph-Based Image Segmentation", IJCV 2004).
 * Pure functions on typed arrays; images are interleaved, 3 values a pixel, row-major.
 */

/** Colour spaces the segmentation and the colour histograms can work in (Uijlings et al. use several for diversity). */
export const COLOUR_SPACES = ['rgb', 'hsv', 'lab'] as const;
export type ColourSpace = (typeof COLOUR_SPACES)[number];

/** A colour-space image: 3 channels a pixel, interleaved, each channel scaled to 0..255. */
export interface ChannelImage {
  values: Float32Array;
  width: number;
  height: number;
}

/** Region label per pixel (0..count − 1, numbered in the order of their first pixel) and the number of regions. */
export interface Segmentation {
  labels: Int32Array;
  count: number;
}

// sRGB → linear light, one entry per 8-bit value (Lab needs it per pixel; a table keeps the pow out of the loop).
const LINEAR = Float32Array.from({ length: 256 }, (_, v) => {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});

const labF = (t: number): number => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);

/** `rgb` (interleaved 8-bit RGB, `width` × `height`) in `space`, each channel scaled to 0..255. */
export function toColourSpace(rgb: Uint8Array, width: number, height: number, space: ColourSpace): ChannelImage {
  const n = width * height;
  const values = new Float32Array(n * 3);
  for (let p = 0; p < n; p++) {
    const r = rgb[p * 3]!;
    const g = rgb[p * 3 + 1]!;
    const b = rgb[p * 3 + 2]!;
    let c0 = r;
    let c1 = g;
    let c2 = b;
    if (space === 'hsv') {
      const max = Math.max(r, g, b);
      const delta = max - Math.min(r, g, b);
      let hue = 0;
      if (delta > 0) {
        if (max === r) hue = ((g - b) / delta + 6) % 6;
        else if (max === g) hue = (b - r) / delta + 2;
        else hue = (r - g) / delta + 4;
      }
      c0 = (hue / 6) * 255;
      c1 = max > 0 ? (delta / max) * 255 : 0;
      c2 = max;
    } else if (space === 'lab') {
      const lr = LINEAR[r]!;
      const lg = LINEAR[g]!;
      const lb = LINEAR[b]!;
      // D65 white; L in 0..100, a and b roughly −110..110, both rescaled to 0..255.
      const fx = labF((0.4124 * lr + 0.3576 * lg + 0.1805 * lb) / 0.95047);
      const fy = labF(0.2126 * lr + 0.7152 * lg + 0.0722 * lb);
      const fz = labF((0.0193 * lr + 0.1192 * lg + 0.9505 * lb) / 1.08883);
      c0 = (116 * fy - 16) * 2.55;
      c1 = Math.min(255, Math.max(0, 500 * (fx - fy) + 128));
      c2 = Math.min(255, Math.max(0, 200 * (fy - fz) + 128));
    }
    values[p * 3] = c0;
    values[p * 3 + 1] = c1;
    values[p * 3 + 2] = c2;
  }
  return { values, width, height };
}

/** A separable Gaussian blur of each channel (edges clamped); sigma 0 returns the image unchanged. */
export function gaussianBlur(image: ChannelImage, sigma: number): ChannelImage {
  if (sigma <= 0) return image;
  const radius = Math.ceil(sigma * 3);
  const kernel = new Float32Array(2 * radius + 1);
  let total = 0;
  for (let i = -radius; i <= radius; i++) total += kernel[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i]! /= total;
  const { width, height, values } = image;
  const pass = (source: Float32Array, horizontal: boolean): Float32Array => {
    const out = new Float32Array(source.length);
    // Step between neighbours along the pass, in array elements; the kernel is clamped only near the edges.
    const step = horizontal ? 3 : width * 3;
    const length = horizontal ? width : height;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const at = horizontal ? x : y;
        const o = (y * width + x) * 3;
        let c0 = 0;
        let c1 = 0;
        let c2 = 0;
        if (at >= radius && at < length - radius) {
          for (let i = -radius; i <= radius; i++) {
            const w = kernel[i + radius]!;
            const s = o + i * step;
            c0 += w * source[s]!;
            c1 += w * source[s + 1]!;
            c2 += w * source[s + 2]!;
          }
        } else {
          for (let i = -radius; i <= radius; i++) {
            const sx = horizontal ? Math.min(width - 1, Math.max(0, x + i)) : x;
            const sy = horizontal ? y : Math.min(height - 1, Math.max(0, y + i));
            const w = kernel[i + radius]!;
            const s = (sy * width + sx) * 3;
            c0 += w * source[s]!;
            c1 += w * source[s + 1]!;
            c2 += w * source[s + 2]!;
          }
        }
        out[o] = c0;
        out[o + 1] = c1;
        out[o + 2] = c2;
      }
    }
    return out;
  };
  return { values: pass(pass(values, true), false), width, height };
}

// Edge weights are sorted by counting on a fixed grid: 1/8 of a colour level, up to the largest possible distance.
const WEIGHT_STEPS = 8;
const WEIGHT_BUCKETS = Math.ceil(Math.sqrt(3) * 255 * WEIGHT_STEPS) + 1;

/** The root of `p`'s set, compressing the path on the way. */
function findRoot(parent: Int32Array, p: number): number {
  let root = p;
  while (parent[root] !== root) root = parent[root]!;
  while (parent[p] !== root) {
    const next = parent[p]!;
    parent[p] = root;
    p = next;
  }
  return root;
}

/** Joins two roots, the smaller set under the larger; returns the new root. */
function unite(parent: Int32Array, size: Int32Array, a: number, b: number): number {
  if (size[a]! < size[b]!) {
    parent[a] = b;
    size[b]! += size[a]!;
    return b;
  }
  parent[b] = a;
  size[a]! += size[b]!;
  return a;
}

/**
 * Felzenszwalb–Huttenlocher segmentation on the 8-connected pixel grid, edge weight = Euclidean colour distance: two
 * regions merge when the edge between them is no heavier than either's internal difference + k / its size (larger k:
 * larger regions); regions under `minSize` pixels are then merged into a neighbour.
 */
export function segmentGraph(image: ChannelImage, k: number, minSize: number): Segmentation {
  const { width, height, values } = image;
  const n = width * height;
  // Each pixel's edges to its right, lower-left, lower and lower-right neighbours (the other four are theirs).
  const from = new Int32Array(n * 4);
  const to = new Int32Array(n * 4);
  const bucket = new Int32Array(n * 4);
  const weight = new Float32Array(n * 4);
  let edges = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const a = y * width + x;
      for (let j = 0; j < 4; j++) {
        // right, lower-left, lower, lower-right
        const nx = j === 0 ? x + 1 : x + j - 2;
        const ny = j === 0 ? y : y + 1;
        if (nx < 0 || nx >= width || ny >= height) continue;
        const b = ny * width + nx;
        const d0 = values[a * 3]! - values[b * 3]!;
        const d1 = values[a * 3 + 1]! - values[b * 3 + 1]!;
        const d2 = values[a * 3 + 2]! - values[b * 3 + 2]!;
        const w = Math.sqrt(d0 * d0 + d1 * d1 + d2 * d2);
        from[edges] = a;
        to[edges] = b;
        weight[edges] = w;
        bucket[edges++] = Math.min(WEIGHT_BUCKETS - 1, Math.floor(w * WEIGHT_STEPS));
      }
    }
  }
  // Counting sort, stable: equal weights keep the scan order, so the result is deterministic.
  const counts = new Int32Array(WEIGHT_BUCKETS + 1);
  for (let e = 0; e < edges; e++) counts[bucket[e]! + 1]!++;
  for (let b = 0; b < WEIGHT_BUCKETS; b++) counts[b + 1]! += counts[b]!;
  // The edges' ends and weights in sorted order, so that the merging pass reads them in sequence.
  const sortedFrom = new Int32Array(edges);
  const sortedTo = new Int32Array(edges);
  const sortedWeight = new Float32Array(edges);
  for (let e = 0; e < edges; e++) {
    const at = counts[bucket[e]!]!++;
    sortedFrom[at] = from[e]!;
    sortedTo[at] = to[e]!;
    sortedWeight[at] = weight[e]!;
  }

  const parent = new Int32Array(n);
  for (let p = 0; p < n; p++) parent[p] = p;
  const size = new Int32Array(n).fill(1);
  const threshold = new Float32Array(n).fill(k);
  for (let i = 0; i < edges; i++) {
    const a = findRoot(parent, sortedFrom[i]!);
    const b = findRoot(parent, sortedTo[i]!);
    if (a === b) continue;
    const w = sortedWeight[i]!;
    if (w <= threshold[a]! && w <= threshold[b]!) {
      const root = unite(parent, size, a, b);
      threshold[root] = w + k / size[root]!;
    }
  }
  for (let i = 0; i < edges; i++) {
    const a = findRoot(parent, sortedFrom[i]!);
    const b = findRoot(parent, sortedTo[i]!);
    if (a !== b && (size[a]! < minSize || size[b]! < minSize)) unite(parent, size, a, b);
  }
  const labels = new Int32Array(n);
  const numbering = new Int32Array(n).fill(-1);
  let count = 0;
  for (let p = 0; p < n; p++) {
    const root = findRoot(parent, p);
    if (numbering[root] === -1) numbering[root] = count++;
    labels[p] = numbering[root]!;
  }
  return { labels, count };
}
