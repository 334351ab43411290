/**
 * The `match` verdict of a search, from the query's own score distribution (the top VERDICT_DEPTH hybrid scores,
 * each a similarity in 0..1): `good` when the best result is both similar and stands out from the query's
 * neighbourhood (the catalog has this item), `none` when nothing is similar or nothing stands out at all (the
 * catalog does not sell this), `weak` in between (similar products, probably not this one).
 *
 * The thresholds are calibrated on the dev set: benchmarks/match-verdict.ts, results in
 * benchmarks/results/match-verdict.md (method, distributions and the error rates on held-out queries).
 */
export type Verdict = 'good' | 'weak' | 'none';

export interface VerdictThresholds {
  goodTop: number;
  goodMargin: number;
  noneTop: number;
  noneMargin: number;
}

export const VERDICT_THRESHOLDS: VerdictThresholds = { goodTop: 0.9, goodMargin: 0.04, noneTop: 0.7, noneMargin: 0 };

export interface VerdictFeatures {
  /** The best score. */
  top: number;
  /** top − the median of the other scores; Infinity when there are none (one match: nothing to stand out from). */
  margin: number;
}

export function verdictFeatures(scores: number[]): VerdictFeatures {
  const sorted = [...scores].sort((a, b) => b - a);
  const top = sorted[0] ?? 0;
  const rest = sorted.slice(1);
  if (rest.length === 0) return { top, margin: Infinity };
  const middle = rest.length / 2;
  const median = rest.length % 2 === 1 ? rest[Math.floor(middle)]! : (rest[middle - 1]! + rest[middle]!) / 2;
  return { top, margin: top - median };
}

export function verdict(scores: number[], thresholds: VerdictThresholds = VERDICT_THRESHOLDS, features: VerdictFeatures = verdictFeatures(scores)): Verdict {
  if (scores.length === 0) return 'none';
  const { top, margin } = features;
  if (top >= thresholds.goodTop && margin >= thresholds.goodMargin) return 'good';
  if (top < thresholds.noneTop || margin < thresholds.noneMargin) return 'none';
  return 'weak';
}
