/**
 * A linear re-scorer learned from pairs (RankNet with a linear score: logistic loss on the score difference of the
 * right candidate and each wrong one of the same query), by full-batch gradient descent with L2. Features are taken
 * relative to the query's first candidate, so that only differences within a query count.
 */
export interface RankedQuery {
  /** Per candidate, its features (same length for all). */
  candidates: number[][];
  /** The position of the right candidate among them, or −1 when it is not there (the query teaches nothing). */
  right: number;
}

export function trainPairwise(queries: RankedQuery[], options: { epochs?: number; rate?: number; l2?: number } = {}): number[] {
  const { epochs = 3000, rate = 5, l2 = 1e-4 } = options;
  const size = queries.find((q) => q.candidates.length > 0)?.candidates[0]!.length ?? 0;
  const weights = new Array<number>(size).fill(0);
  const pairs = queries.flatMap((q) => (q.right < 0 ? [] : q.candidates.flatMap((wrong, n) => (n === q.right ? [] : [q.candidates[q.right]!.map((value, k) => value - wrong[k]!)]))));
  if (pairs.length === 0) return weights;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const gradient = new Array<number>(size).fill(0);
    for (const difference of pairs) {
      const z = difference.reduce((sum, value, k) => sum + value * weights[k]!, 0);
      const p = 1 / (1 + Math.exp(-z));
      for (let k = 0; k < size; k++) gradient[k]! += (p - 1) * difference[k]!;
    }
    for (let k = 0; k < size; k++) weights[k]! -= rate * (gradient[k]! / pairs.length + l2 * weights[k]!);
  }
  return weights;
}

export const linearScore = (weights: number[], features: number[]): number => features.reduce((sum, value, k) => sum + value * weights[k]!, 0);
