import type { Candidate } from '../../../../core/detection/decode';
import { iou, nonMaxSuppression } from '../../../../core/detection/nms';

const box = (xMin: number, yMin: number, xMax: number, yMax: number) => ({ xMin, yMin, xMax, yMax });
const candidate = (name: string, classIndex: number, score: number, b: ReturnType<typeof box>) => ({ name, classIndex, score, box: b });
const names = (kept: Array<Candidate & { name: string }>) => kept.map((c) => c.name);

describe('iou', () => {
  it('is computed by hand for overlapping, nested, touching and disjoint boxes', () => {
    expect(iou(box(0, 0, 2, 2), box(1, 1, 3, 3))).toBeCloseTo(1 / 7, 12); // 1 / (4 + 4 - 1)
    expect(iou(box(0, 0, 4, 4), box(1, 1, 3, 3))).toBeCloseTo(4 / 16, 12);
    expect(iou(box(0, 0, 1, 1), box(1, 0, 2, 1))).toBe(0);
    expect(iou(box(0, 0, 1, 1), box(2, 2, 3, 3))).toBe(0);
    expect(iou(box(0, 0, 1, 1), box(0, 0, 1, 1))).toBe(1);
    expect(iou(box(0, 0, 0, 0), box(0, 0, 0, 0))).toBe(0);
  });
});

describe('nonMaxSuppression', () => {
  const a = candidate('a', 1, 0.9, box(0, 0, 10, 10));
  const b = candidate('b', 2, 0.8, box(0, 0, 10, 7)); // inside a: IoU 70/100 = 0.7
  const c = candidate('c', 1, 0.7, box(20, 20, 30, 30)); // disjoint
  const d = candidate('d', 1, 0.6, box(0, 0, 10, 5)); // inside a: IoU 50/100 = 0.5, not above the threshold
  const e = candidate('e', 1, 0.5, box(21, 21, 30, 30)); // inside c: IoU 81/100

  it('class-agnostic: drops boxes overlapping a better one by more than the threshold, whatever their class', () => {
    const kept = nonMaxSuppression([e, d, c, b, a], { iouThreshold: 0.5, maxDetections: 10, classAgnostic: true });
    expect(names(kept)).toEqual(['a', 'c', 'd']);
  });

  it('per class: a box of another class is not suppressed', () => {
    const kept = nonMaxSuppression([e, d, c, b, a], { iouThreshold: 0.5, maxDetections: 10, classAgnostic: false });
    expect(names(kept)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('keeps at most maxDetections, the best first', () => {
    expect(names(nonMaxSuppression([e, d, c, b, a], { iouThreshold: 0.5, maxDetections: 2, classAgnostic: true }))).toEqual(['a', 'c']);
  });

  it('keeps equal scores in their input order, and does not reorder its input', () => {
    const input = [candidate('x', 1, 0.5, box(0, 0, 1, 1)), candidate('y', 1, 0.5, box(0, 0, 1, 1))];
    expect(names(nonMaxSuppression(input, { iouThreshold: 0.5, maxDetections: 10, classAgnostic: true }))).toEqual(['x']);
    expect(names(input)).toEqual(['x', 'y']);
  });
});
