import type { Candidate, NormalizedBox } from './decode';

/** Intersection over union of two boxes; 0 when either is empty. */
export function iou(a: NormalizedBox, b: NormalizedBox): number {
  const width = Math.min(a.xMax, b.xMax) - Math.max(a.xMin, b.xMin);
  const height = Math.min(a.yMax, b.yMax) - Math.max(a.yMin, b.yMin);
  if (width <= 0 || height <= 0) return 0;
  const intersection = width * height;
  const union = (a.xMax - a.xMin) * (a.yMax - a.yMin) + (b.xMax - b.xMin) * (b.yMax - b.yMin) - intersection;
  return union > 0 ? intersection / union : 0;
}

export interface SuppressionOptions {
  /** A box overlapping an already kept one by more than this IoU is dropped. */
  iouThreshold: number;
  /** At most this many boxes are kept. */
  maxDetections: number;
  /** Boxes suppress each other whatever their classes (true), or only boxes of the same class (false). */
  classAgnostic: boolean;
}

/**
 * Greedy non-maximum suppression: the candidates by descending score (ties keep their input order), each kept unless
 * it overlaps a kept box (of the same class, when not class-agnostic) by more than iouThreshold.
 */
export function nonMaxSuppression<T extends Candidate>(candidates: readonly T[], options: SuppressionOptions): T[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const candidate of sorted) {
    if (kept.length >= options.maxDetections) break;
    const suppressed = kept.some(
      (other) => (options.classAgnostic || other.classIndex === candidate.classIndex) && iou(other.box, candidate.box) > options.iouThreshold,
    );
    if (!suppressed) kept.push(candidate);
  }
  return kept;
}
