import { ANCHOR_STRIDE, generateAnchors } from '../../../../core/detection/anchors';
import { anchorOptionsSchema, resolveDetectorManifest } from '../../../../core/detection/manifest';

/** Anchor `index` as [y centre, x centre, height, width]. */
const anchorAt = (anchors: Float64Array, index: number): number[] => Array.from(anchors.subarray(index * ANCHOR_STRIDE, (index + 1) * ANCHOR_STRIDE));

function expectClose(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 10));
}

describe('SSD anchors of the built-in detector', () => {
  const anchors = generateAnchors(resolveDetectorManifest().anchors);

  it('number 1917: 19²·3 + (10² + 5² + 3² + 2² + 1²)·6', () => {
    expect(anchors.length / ANCHOR_STRIDE).toBe(1917);
    expect(19 * 19 * 3 + (100 + 25 + 9 + 4 + 1) * 6).toBe(1917);
  });

  it('start with the lowest layer\'s three reduced shapes at cell (0, 0): (0.1, 1), (0.2, 2), (0.2, 0.5)', () => {
    const centre = 0.5 / 19;
    expectClose(anchorAt(anchors, 0), [centre, centre, 0.1, 0.1]);
    expectClose(anchorAt(anchors, 1), [centre, centre, 0.2 / Math.SQRT2, 0.2 * Math.SQRT2]);
    expectClose(anchorAt(anchors, 2), [centre, centre, 0.2 * Math.SQRT2, 0.2 / Math.SQRT2]);
  });

  it('go along the row first: anchor 3 is cell (row 0, column 1), anchor 57 is cell (row 1, column 0)', () => {
    expectClose(anchorAt(anchors, 3), [0.5 / 19, 1.5 / 19, 0.1, 0.1]);
    expectClose(anchorAt(anchors, 57), [1.5 / 19, 0.5 / 19, 0.1, 0.1]);
  });

  it('give the second layer scale 0.35, six shapes per cell, the sixth of scale √(0.35 · 0.5)', () => {
    const first = 1083;
    expectClose(anchorAt(anchors, first), [0.05, 0.05, 0.35, 0.35]);
    expectClose(anchorAt(anchors, first + 3), [0.05, 0.05, 0.35 / Math.sqrt(3), 0.35 * Math.sqrt(3)]);
    expectClose(anchorAt(anchors, first + 4), [0.05, 0.05, 0.35 / Math.sqrt(0.3333), 0.35 * Math.sqrt(0.3333)]);
    expectClose(anchorAt(anchors, first + 5), [0.05, 0.05, Math.sqrt(0.175), Math.sqrt(0.175)]);
    // Cell (row 9, column 9), its first shape: the last cell of the 10×10 map.
    expectClose(anchorAt(anchors, first + 99 * 6), [0.95, 0.95, 0.35, 0.35]);
  });

  it('end with the 1×1 layer: scale 0.95, the extra shape of scale √(0.95 · 1)', () => {
    expectClose(anchorAt(anchors, 1911), [0.5, 0.5, 0.95, 0.95]);
    expectClose(anchorAt(anchors, 1912), [0.5, 0.5, 0.95 / Math.SQRT2, 0.95 * Math.SQRT2]);
    expectClose(anchorAt(anchors, 1916), [0.5, 0.5, Math.sqrt(0.95), Math.sqrt(0.95)]);
  });
});

describe('generateAnchors', () => {
  it('gives a single layer the mean scale and no reduced shapes or extra anchor when they are off', () => {
    const anchors = generateAnchors(
      anchorOptionsSchema.parse({ featureMapSizes: [2], minScale: 0.2, maxScale: 0.6, aspectRatios: [1, 4], reduceBoxesInLowestLayer: false, interpolatedScaleAspectRatio: 0 }),
    );
    expect(anchors.length / ANCHOR_STRIDE).toBe(8);
    expectClose(anchorAt(anchors, 0), [0.25, 0.25, 0.4, 0.4]);
    expectClose(anchorAt(anchors, 1), [0.25, 0.25, 0.2, 0.8]);
    expectClose(anchorAt(anchors, 7), [0.75, 0.75, 0.2, 0.8]);
  });
});
