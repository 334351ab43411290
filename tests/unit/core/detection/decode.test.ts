import { decodeBox, findCandidates, sigmoid, toPixelBox } from '../../../../core/detection/decode';

const coder = { yScale: 10, xScale: 10, hScale: 5, wScale: 5 };

describe('decodeBox', () => {
  // One anchor: centre (y 0.5, x 0.5), height 0.2, width 0.4.
  const anchors = [0.5, 0.5, 0.2, 0.4];

  it('decodes (ty, tx, th, tw) = (1, -2, 5·ln 2, 0) by hand: centre (0.52, 0.42), size 0.4 × 0.4', () => {
    const box = decodeBox([1, -2, 5 * Math.LN2, 0], anchors, 0, coder);
    expect(box.yMin).toBeCloseTo(0.32, 12);
    expect(box.yMax).toBeCloseTo(0.72, 12);
    expect(box.xMin).toBeCloseTo(0.22, 12);
    expect(box.xMax).toBeCloseTo(0.62, 12);
  });

  it('gives the anchor itself for a zero encoding, and reads the anchor and encoding at `index`', () => {
    const box = decodeBox([9, 9, 9, 9, 0, 0, 0, 0], [...anchors, 0.25, 0.75, 0.1, 0.3], 1, coder);
    expect(box.yMin).toBeCloseTo(0.2, 12);
    expect(box.yMax).toBeCloseTo(0.3, 12);
    expect(box.xMin).toBeCloseTo(0.6, 12);
    expect(box.xMax).toBeCloseTo(0.9, 12);
  });

  it('clips to the input: a box wider than the input, or past its right edge', () => {
    // Centre x 0.5, width 0.4 · e ≈ 1.087: both sides clip.
    expect(decodeBox([0, 0, 0, 5], anchors, 0, coder)).toEqual({ xMin: 0, yMin: expect.closeTo(0.4, 12), xMax: 1, yMax: expect.closeTo(0.6, 12) });
    // Centre x 0.5 + 5/10 · 0.4 = 0.7, width 0.4 · e^0.5 ≈ 0.6595: the left side stays at ≈ 0.3702.
    expect(decodeBox([0, 5, 0, 2.5], anchors, 0, coder)).toEqual({ xMin: expect.closeTo(0.7 - 0.2 * Math.exp(0.5), 12), yMin: expect.closeTo(0.4, 12), xMax: 1, yMax: expect.closeTo(0.6, 12) });
  });
});

describe('sigmoid', () => {
  it('is 0.5 at 0 and 1 / (1 + e^-x) elsewhere', () => {
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(Math.log(3))).toBeCloseTo(0.75, 12);
    expect(sigmoid(-Math.log(3))).toBeCloseTo(0.25, 12);
  });
});

describe('findCandidates', () => {
  // Three anchors with zero encodings; three classes: 0 background, 1 and 2.
  const anchors = [0.5, 0.5, 0.2, 0.2, 0.25, 0.25, 0.1, 0.1, 0.75, 0.75, 0.1, 0.1];
  const encodings = new Float32Array(12);
  const logit = (p: number): number => Math.log(p / (1 - p));
  const logits = Float32Array.from([
    logit(0.99), logit(0.6), logit(0.7), // anchor 0: background highest, then class 2, class 1
    logit(0.1), logit(0.2), logit(0.3), // anchor 1: nothing above 0.5
    logit(0.5), logit(0.9), logit(0.55), // anchor 2: class 1, class 2 also passes
  ]);

  it('class-agnostic: one candidate per anchor, its best class other than the background, at least the threshold', () => {
    const found = findCandidates(encodings, logits, anchors, 3, coder, { scoreThreshold: 0.5, classAgnostic: true });
    expect(found.map(({ classIndex, score }) => [classIndex, score])).toEqual([
      [2, expect.closeTo(0.7, 6)],
      [1, expect.closeTo(0.9, 6)],
    ]);
    expect(found[0]!.box).toEqual({ xMin: expect.closeTo(0.4, 6), yMin: expect.closeTo(0.4, 6), xMax: expect.closeTo(0.6, 6), yMax: expect.closeTo(0.6, 6) });
  });

  it('per class: every class above the threshold, the background never', () => {
    const found = findCandidates(encodings, logits, anchors, 3, coder, { scoreThreshold: 0.5, classAgnostic: false });
    expect(found.map(({ classIndex, score }) => [classIndex, Number(score.toFixed(4))])).toEqual([
      [1, 0.6], [2, 0.7], [1, 0.9], [2, 0.55],
    ]);
    expect(found[2]!.box).toBe(found[3]!.box); // decoded once per anchor
  });

  it('keeps everything at threshold 0 and nothing at threshold 1', () => {
    expect(findCandidates(encodings, logits, anchors, 3, coder, { scoreThreshold: 0, classAgnostic: false })).toHaveLength(6);
    expect(findCandidates(encodings, logits, anchors, 3, coder, { scoreThreshold: 1, classAgnostic: true })).toHaveLength(0);
  });

  it('drops a box that clips to nothing (an anchor entirely outside the input)', () => {
    const outside = [1.5, 0.5, 0.2, 0.2];
    expect(findCandidates(new Float32Array(4), Float32Array.from([0, 5]), outside, 2, coder, { scoreThreshold: 0.5, classAgnostic: true })).toEqual([]);
  });

  it('refuses outputs that do not match the anchors', () => {
    expect(() => findCandidates(new Float32Array(8), logits, anchors, 3, coder, { scoreThreshold: 0.5, classAgnostic: true })).toThrow(/expected 3/);
  });
});

describe('toPixelBox', () => {
  it('scales each axis by its own side and takes the whole pixels that hold the box', () => {
    expect(toPixelBox({ xMin: 0.1, yMin: 0.25, xMax: 0.5, yMax: 0.75 }, { width: 640, height: 480 })).toEqual({ left: 64, top: 120, width: 256, height: 240 });
    expect(toPixelBox({ xMin: 0.101, yMin: 0.2, xMax: 0.499, yMax: 0.3 }, { width: 100, height: 10 })).toEqual({ left: 10, top: 2, width: 40, height: 1 });
  });

  it('stays inside the image and at least 1 px a side', () => {
    expect(toPixelBox({ xMin: -0.2, yMin: 0, xMax: 1.3, yMax: 1 }, { width: 50, height: 40 })).toEqual({ left: 0, top: 0, width: 50, height: 40 });
    expect(toPixelBox({ xMin: 1, yMin: 1, xMax: 1, yMax: 1 }, { width: 50, height: 40 })).toEqual({ left: 49, top: 39, width: 1, height: 1 });
  });
});
