import { z } from 'zod';
import { describeIssues } from '../errors';
import type { CropBox } from '../image/autocrop';
import type { RgbImage } from '../image/decode';
import { groupHierarchy, initialRegions, pixelBins, SIMILARITIES, type PixelBins, type Similarity } from './selective-search-grouping';
import { COLOUR_SPACES, gaussianBlur, segmentGraph, toColourSpace, type ChannelImage, type ColourSpace } from './selective-search-segment';
import { seededRandom } from '../random';

/**
 * Class-agnostic object proposals by Selective Search (Uijlings et al., "Selective Search for Object Recognition",
 * IJCV 2013): the photo, scaled down, is over-segmented (selective-search-segment.ts), then neighbouring regions are
 * merged greedily, most similar pair first (colour, texture, size, fill), until one region is left; every region met
 * on the way is a candidate box. Several segmentations (colour space × k) and similarity sets give diverse
 * hierarchies whose boxes are pooled and ranked. Pure JavaScript, synchronous, deterministic for given options.
 */

/** Options; every field has a default (selectiveSearchOptionsSchema.parse({}) gives them all). */
export const selectiveSearchOptionsSchema = z
  .object({
    /** Long side of the downscaled image the search runs on, px. Default 128: products ≥ 1/8 of the photo stay ≥ 16 px. */
    maxSide: z.number().int().min(16).max(1024).default(128),
    /** Gaussian smoothing before segmentation (Felzenszwalb–Huttenlocher use 0.8). Default 0.8. */
    sigma: z.number().min(0).max(5).default(0.8),
    /** One over-segmentation per (colour space, k); larger k, larger initial regions. Default hsv k 50 and lab k 100. */
    segmentations: z
      .array(z.object({ colourSpace: z.enum(COLOUR_SPACES), k: z.number().positive() }).strict())
      .min(1)
      .default([
        { colourSpace: 'hsv', k: 50 },
        { colourSpace: 'lab', k: 100 },
      ]),
    /** Initial regions smaller than this share of the (downscaled) image are merged into a neighbour. Default 0.002. */
    minRegionShare: z.number().min(0).max(0.5).default(0.002),
    /** Similarity sets, one hierarchy each per segmentation (Uijlings' "fast": C+T+S+F and T+S+F). */
    similaritySets: z
      .array(z.array(z.enum(SIMILARITIES)).min(1))
      .min(1)
      .default([
        ['colour', 'texture', 'size', 'fill'],
        ['texture', 'size', 'fill'],
      ]),
    /** Boxes with a side under this share of the image's side, or longer than `maxAspect` × their other side, are dropped. */
    minSideShare: z.number().min(0).max(1).default(0.08),
    maxAspect: z.number().min(1).default(4),
    /** At most this many boxes, best ranked first. Default 300. */
    maxBoxes: z.number().int().min(1).default(300),
    /** Seed of the ranking's random factor: same seed, same order. */
    seed: z.number().int().default(1),
  })
  .strict();

export { COLOUR_SPACES, SIMILARITIES, type ColourSpace, type Similarity };

export type SelectiveSearchOptions = z.infer<typeof selectiveSearchOptionsSchema>;
export const DEFAULT_SELECTIVE_SEARCH_OPTIONS: SelectiveSearchOptions = selectiveSearchOptionsSchema.parse({});

/** A candidate object box in the pixels of the image given, with its rank (0 = most likely an object). */
export interface Proposal {
  box: CropBox;
  rank: number;
}

/** Options with their defaults filled in; a RangeError listing every bad one (options are code, not user input). */
export function resolveSelectiveSearchOptions(options: Partial<SelectiveSearchOptions> = {}): SelectiveSearchOptions {
  const parsed = selectiveSearchOptionsSchema.safeParse(options);
  if (!parsed.success) throw new RangeError(`invalid selective search options: ${describeIssues(parsed.error.issues).join('; ')}`);
  return parsed.data;
}

/** `image` scaled (area average) so that its long side is at most `maxSide`, as interleaved 8-bit RGB. */
export function downscale(image: RgbImage, maxSide: number): { rgb: Uint8Array; width: number; height: number } {
  const scale = Math.min(1, maxSide / Math.max(image.width, image.height));
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor((y * image.height) / height);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * image.height) / height));
    for (let x = 0; x < width; x++) {
      const x0 = Math.floor((x * image.width) / width);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * image.width) / width));
      let r = 0;
      let g = 0;
      let b = 0;
      for (let sy = y0; sy < y1; sy++) {
        for (let sx = x0; sx < x1; sx++) {
          const s = (sy * image.width + sx) * 3;
          r += image.data[s]!;
          g += image.data[s + 1]!;
          b += image.data[s + 2]!;
        }
      }
      const count = (y1 - y0) * (x1 - x0);
      const o = (y * width + x) * 3;
      rgb[o] = Math.round(r / count);
      rgb[o + 1] = Math.round(g / count);
      rgb[o + 2] = Math.round(b / count);
    }
  }
  return { rgb, width, height };
}

/** A deterministic uniform generator in (0, 1]: core/random.ts's mulberry32, shifted off zero. */
function random(seed: number): () => number {
  const next = seededRandom(seed);
  return () => next() + 1 / 4294967296;
}

/**
 * Selective Search proposals for `image`, best first, in its own pixels. Each hierarchy ranks its regions by position
 * (the later a merge, the better) times a random factor, as the paper does, so that the large regions every hierarchy
 * agrees on come first while each strategy still contributes early boxes; a box found by several hierarchies keeps
 * its best value. Exact duplicates are removed; near-duplicates are kept (callers rank and suppress as they need).
 * Cost: initial regions of at least `minRegionShare` of the image bound each hierarchy (at most 1 / minRegionShare
 * regions, 500 by default) whatever the photo; at the defaults ~200 boxes in 30–40 ms median on the shared 2-core
 * development machine (benchmarks/results/localization-research.md).
 */
export function selectiveSearch(image: RgbImage, options: Partial<SelectiveSearchOptions> = {}): Proposal[] {
  const settings = resolveSelectiveSearchOptions(options);
  const small = downscale(image, settings.maxSide);
  const { width, height } = small;
  const draw = random(settings.seed);
  const best = new Map<string, { box: [number, number, number, number]; value: number }>();
  const spaces = new Map<ColourSpace, { channels: ChannelImage; bins: PixelBins }>();
  for (const { colourSpace, k } of settings.segmentations) {
    let space = spaces.get(colourSpace);
    if (!space) {
      const channels = gaussianBlur(toColourSpace(small.rgb, width, height, colourSpace), settings.sigma);
      space = { channels, bins: pixelBins(channels) };
      spaces.set(colourSpace, space);
    }
    const { labels, count } = segmentGraph(space.channels, k, Math.max(1, Math.round(settings.minRegionShare * width * height)));
    const initial = initialRegions(labels, count, width, height, space.bins);
    for (const similarities of settings.similaritySets) {
      for (const { box, position } of groupHierarchy(initial, width, height, similarities)) {
        const [left, top, right, bottom] = box;
        const w = right - left;
        const h = bottom - top;
        if (w < settings.minSideShare * width || h < settings.minSideShare * height || w > settings.maxAspect * h || h > settings.maxAspect * w) continue;
        const key = box.join(',');
        const value = position * draw();
        const seen = best.get(key);
        if (!seen || value < seen.value) best.set(key, { box, value });
      }
    }
  }
  const sx = image.width / width;
  const sy = image.height / height;
  return [...best.values()]
    .sort((a, b) => a.value - b.value)
    .slice(0, settings.maxBoxes)
    .map(({ box: [left, top, right, bottom] }, rank) => {
      const x0 = Math.round(left * sx);
      const y0 = Math.round(top * sy);
      return { box: { left: x0, top: y0, width: Math.min(image.width, Math.round(right * sx)) - x0, height: Math.min(image.height, Math.round(bottom * sy)) - y0 }, rank };
    });
}
