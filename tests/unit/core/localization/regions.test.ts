import { gridBoxes, iou, padBox, scdaRegions } from '../../../../core/localization/regions';

/** A width × height map of zeros with `value` in the given cells. */
function map(width: number, height: number, hot: Array<[x: number, y: number, value: number]>): { values: Float32Array; width: number; height: number } {
  const values = new Float32Array(width * height);
  for (const [x, y, value] of hot) values[y * width + x] = value;
  return { values, width, height };
}

describe('scdaRegions', () => {
  it('returns the connected regions above the threshold, strongest first, in image pixels', () => {
    // Two blobs on a 4 × 2 map of a 400 × 200 image: a strong one at the left, a weaker one at the right.
    const m = map(4, 2, [[0, 0, 9], [0, 1, 9], [3, 1, 4]]);
    const regions = scdaRegions(m, 400, 200, { threshold: 1, upsample: 1, padding: 0 });
    expect(regions.map((r) => r.box)).toEqual([
      { left: 0, top: 0, width: 100, height: 200 },
      { left: 300, top: 100, width: 100, height: 100 },
    ]);
    expect(regions[0]!.mass).toBeCloseTo(18 / 22);
    expect(regions[1]!.area).toBeCloseTo(1 / 8);
  });

  it('drops the weaker region when the threshold rises above it', () => {
    const m = map(4, 2, [[0, 0, 9], [0, 1, 9], [3, 1, 4]]);
    // mean = 22 / 8 = 2.75; t = 2 keeps cells above 5.5.
    expect(scdaRegions(m, 400, 200, { threshold: 2, upsample: 1, padding: 0 })).toHaveLength(1);
  });

  it('joins diagonal neighbours (8-connectivity) and pads inside the image', () => {
    const m = map(3, 3, [[0, 0, 5], [1, 1, 5]]);
    const [region] = scdaRegions(m, 300, 300, { threshold: 1, upsample: 1, padding: 0.5 });
    expect(region!.box).toEqual({ left: 0, top: 0, width: 300, height: 300 });
  });

  it('returns nothing for a flat map', () => {
    expect(scdaRegions(map(3, 3, []), 90, 90, { threshold: 1, upsample: 4, padding: 0.1 })).toEqual([]);
  });
});

describe('boxes', () => {
  it('iou of identical, disjoint and half-overlapping boxes', () => {
    const a = { left: 0, top: 0, width: 10, height: 10 };
    expect(iou(a, a)).toBe(1);
    expect(iou(a, { left: 20, top: 0, width: 10, height: 10 })).toBe(0);
    expect(iou(a, { left: 5, top: 0, width: 10, height: 10 })).toBeCloseTo(50 / 150);
  });

  it('padBox grows by a share of the size and clips to the image', () => {
    expect(padBox({ left: 10, top: 10, width: 20, height: 40 }, 0.25, 100, 45)).toEqual({ left: 5, top: 0, width: 30, height: 45 });
  });

  it('gridBoxes lays squares of a share of the short side on an n × n lattice', () => {
    const boxes = gridBoxes(200, 100, [[0.5, 2], [1, 1]]);
    expect(boxes).toEqual([
      { left: 0, top: 0, width: 50, height: 50 },
      { left: 150, top: 0, width: 50, height: 50 },
      { left: 0, top: 50, width: 50, height: 50 },
      { left: 150, top: 50, width: 50, height: 50 },
      { left: 50, top: 0, width: 100, height: 100 },
    ]);
  });
});
