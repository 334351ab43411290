import type { CropBox } from '../../../../core/image/autocrop';
import type { RgbImage } from '../../../../core/image/decode';
import { downscale, resolveSelectiveSearchOptions, selectiveSearch } from '../../../../core/localization/selective-search';
import { segmentGraph, toColourSpace } from '../../../../core/localization/selective-search-segment';

const iou = (a: CropBox, b: CropBox): number => {
  const w = Math.min(a.left + a.width, b.left + b.width) - Math.max(a.left, b.left);
  const h = Math.min(a.top + a.height, b.top + b.height) - Math.max(a.top, b.top);
  if (w <= 0 || h <= 0) return 0;
  return (w * h) / (a.width * a.height + b.width * b.height - w * h);
};

/**
 * A 512 × 384 photo: grey-green noise (a seeded texture) with two rectangles on it, each in two flat colours (top and
 * bottom halves), so that only merging regions, not the segmentation alone, gives a rectangle's box.
 */
function scene(rectangles: Array<{ box: CropBox; rgb: [number, number, number]; lower: [number, number, number] }>): RgbImage {
  const width = 512;
  const height = 384;
  const data = Buffer.alloc(width * height * 3);
  let state = 7;
  const noise = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  for (let p = 0; p < width * height; p++) {
    const v = 90 + Math.floor(noise() * 70);
    data[p * 3] = v - 10;
    data[p * 3 + 1] = v + 10;
    data[p * 3 + 2] = v - 20;
  }
  for (const { box, rgb, lower } of rectangles) {
    for (let y = box.top; y < box.top + box.height; y++) for (let x = box.left; x < box.left + box.width; x++) data.set(y < box.top + box.height / 2 ? rgb : lower, (y * width + x) * 3);
  }
  return { data, width, height };
}

const RED = { box: { left: 60, top: 50, width: 110, height: 90 }, rgb: [200, 30, 40] as [number, number, number], lower: [240, 200, 40] as [number, number, number] };
const BLUE = { box: { left: 300, top: 180, width: 140, height: 160 }, rgb: [30, 60, 210] as [number, number, number], lower: [230, 230, 240] as [number, number, number] };

describe('selectiveSearch', () => {
  const image = scene([RED, BLUE]);
  const proposals = selectiveSearch(image);

  it('proposes a box fitting each of two coloured rectangles on a textured background (IoU ≥ 0.8)', () => {
    for (const { box } of [RED, BLUE]) expect(Math.max(...proposals.map((p) => iou(p.box, box)))).toBeGreaterThanOrEqual(0.8);
  });

  it('ranks the rectangles among its first 30 boxes', () => {
    for (const { box } of [RED, BLUE]) expect(proposals.slice(0, 30).some((p) => iou(p.box, box) >= 0.8)).toBe(true);
  });

  it('returns boxes inside the image, ranked 0, 1, 2, … without duplicates, at most maxBoxes', () => {
    expect(proposals.length).toBeGreaterThan(2);
    expect(proposals.length).toBeLessThanOrEqual(300);
    proposals.forEach((p, i) => {
      expect(p.rank).toBe(i);
      expect(p.box.left).toBeGreaterThanOrEqual(0);
      expect(p.box.top).toBeGreaterThanOrEqual(0);
      expect(p.box.width).toBeGreaterThan(0);
      expect(p.box.height).toBeGreaterThan(0);
      expect(p.box.left + p.box.width).toBeLessThanOrEqual(image.width);
      expect(p.box.top + p.box.height).toBeLessThanOrEqual(image.height);
    });
    expect(new Set(proposals.map((p) => JSON.stringify(p.box))).size).toBe(proposals.length);
    expect(selectiveSearch(image, { maxBoxes: 5 })).toHaveLength(5);
  });

  it('is deterministic: the same image and options give the same boxes in the same order', () => {
    expect(selectiveSearch(image)).toEqual(proposals);
  });

  it('changes only the order, not the boxes, with another seed', () => {
    const reseeded = selectiveSearch(image, { seed: 2, maxBoxes: 10_000 });
    const all = selectiveSearch(image, { maxBoxes: 10_000 });
    expect(reseeded.map((p) => p.box)).not.toEqual(all.map((p) => p.box));
    const key = (p: { box: CropBox }): string => JSON.stringify(p.box);
    expect(new Set(reseeded.map(key))).toEqual(new Set(all.map(key)));
  });

  it('drops boxes thinner than minSideShare of the image or longer than maxAspect × their width', () => {
    const strict = selectiveSearch(image, { minSideShare: 0.3, maxAspect: 1.5, maxBoxes: 10_000 });
    for (const { box } of strict) {
      expect(box.width).toBeGreaterThanOrEqual(0.3 * image.width - 4);
      expect(box.height).toBeGreaterThanOrEqual(0.3 * image.height - 4);
      expect(Math.max(box.width / box.height, box.height / box.width)).toBeLessThanOrEqual(1.5 + 0.05);
    }
  });

  it('refuses options out of range, naming each', () => {
    expect(() => resolveSelectiveSearchOptions({ maxSide: 4, similaritySets: [] })).toThrow(/maxSide.*similaritySets|similaritySets.*maxSide/);
  });
});

describe('the segmentation under it', () => {
  it('cuts a flat two-colour image into its two halves, and merges specks under minSize into their surroundings', () => {
    const width = 40;
    const height = 20;
    const rgb = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rgb.set(x < 20 ? [250, 250, 250] : [10, 10, 200], (y * width + x) * 3);
    rgb.set([0, 0, 0], (5 * width + 5) * 3);
    const { labels, count } = segmentGraph(toColourSpace(rgb, width, height, 'lab'), 50, 4);
    expect(count).toBe(2);
    expect(labels[0]).not.toBe(labels[width - 1]);
    expect(labels[5 * width + 5]).toBe(labels[0]);
  });

  it('converts white to Lab (100, 0, 0) and pure red to HSV hue 0, full saturation and value, on a 0..255 scale', () => {
    const lab = toColourSpace(new Uint8Array([255, 255, 255]), 1, 1, 'lab').values;
    expect(lab[0]).toBeCloseTo(255, 0);
    expect(lab[1]).toBeCloseTo(128, 0);
    expect(lab[2]).toBeCloseTo(128, 0);
    expect(Array.from(toColourSpace(new Uint8Array([255, 0, 0]), 1, 1, 'hsv').values)).toEqual([0, 255, 255]);
  });

  it('downscales by area averaging to the long side asked for', () => {
    const image: RgbImage = { data: Buffer.from([0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255]), width: 4, height: 1 };
    expect(downscale(image, 2)).toEqual({ rgb: new Uint8Array([128, 128, 128, 128, 128, 128]), width: 2, height: 1 });
  });
});
