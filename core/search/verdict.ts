/**
 * The `match` verdict of a search, from the query's own score distribution (the top VERDICT_DEPTH hybrid scores,
 * each a similarity in 0..1; scores ranked below are ignored, whatever `k` the search asked for):
 * - `good` (the catalog has this item): the best result is similar and clearly ahead of the second, read together
 *   as top + (top − second) ≥ goodStrength;
 * - `none` (the catalog sells nothing like it): nothing is similar (top < noneTop), or nothing stands out from the
 *   query's neighbourhood (top − the median of ranks 2 … 10 < noneMargin);
 * - `weak` in between (similar products, probably not this one).
 *
 * The thresholds are calibrated on the dev set: benchmarks/match-verdict.ts, results in
 * benchmarks/results/match-verdict.md (method, distributions and the error rates on held-out queries).
 */
export type Verdict = 'good' | 'weak' | 'none';

/** The verdict reads the top this many scores: the thresholds are calibrated on them. */
export const VERDICT_DEPTH = 10;

export interface VerdictThresholds {
  goodStrength: number;
  noneTop: number;
  noneMargin: number;
}

export const VERDICT_THRESHOLDS: VerdictThresholds = { goodStrength: 0.988, noneTop: 0.8575, noneMargin: 0.0325 };

export interface VerdictFeatures {
  /** The best score. */
  top: number;
  /** top − the second score; 0 when there is no second (one match: nothing it could be told apart from). */
  gap: number;
  /** top − the median of the scores ranked 2 … VERDICT_DEPTH; Infinity when there are none. */
  margin: number;
}

export function verdictFeatures(scores: number[]): VerdictFeatures {
  const sorted = [...scores].sort((a, b) => b - a).slice(0, VERDICT_DEPTH);
  const top = sorted[0] ?? 0;
  const rest = sorted.slice(1);
  if (rest.length === 0) return { top, gap: 0, margin: Infinity };
  const middle = rest.length / 2;
  const median = rest.length % 2 === 1 ? rest[Math.floor(middle)]! : (rest[middle - 1]! + rest[middle]!) / 2;
  return { top, gap: top - rest[0]!, margin: top - median };
}

export function verdict(scores: number[], thresholds: VerdictThresholds = VERDICT_THRESHOLDS, features: VerdictFeatures = verdictFeatures(scores)): Verdict {
  if (scores.length === 0) return 'none';
  const { top, gap, margin } = features;
  if (top + gap >= thresholds.goodStrength) return 'good';
  if (top < thresholds.noneTop || margin < thresholds.noneMargin) return 'none';
  return 'weak';
}
