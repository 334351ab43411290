import { z } from 'zod';

/**
 * Business ranking, applied after the verdict (which reads the similarities alone, so no rule can hide that the
 * catalog has nothing like the photo): over the hits the search retrieved, a product's ranking score is its
 * similarity plus Σ weight · signal (its `signals`, absent ones 0); `pin` puts products first (in the order given),
 * `bury` last; `max_per_brand` keeps at most that many of a brand and `dedupe` folds near-identical products
 * (the same image, or the same brand and title within DEDUPE_GAP of similarity), each keeping the best-ranked.
 */

export const SIGNAL_NAME = /^[a-z][a-z0-9_]{0,63}$/;
/** Similarities closer than this, with the same brand and title, are one product shown twice (sizes, colours of one listing). */
export const DEDUPE_GAP = 0.005;

const productIds = z.array(z.string().min(1).max(256)).min(1).max(100);

export const rankingSchema = z.object({
  boost: z
    .array(z.object({ signal: z.string().regex(SIGNAL_NAME, 'a signal name: lower-case letters, digits and "_"'), weight: z.number().min(-10).max(10) }).strict())
    .min(1)
    .max(10)
    .optional()
    .describe("Add weight · the product's signal (its `signals` in events; absent: 0) to each result's ranking score; signals are best given in 0..1"),
  pin: productIds.optional().describe('These products first, in this order, when the search found them'),
  bury: productIds.optional().describe('These products last, when the search found them'),
  max_per_brand: z.number().int().min(1).max(100).optional().describe('At most this many results of one brand (the best-ranked)'),
  dedupe: z.boolean().default(false).describe(`Fold near-identical results: the same image, or the same brand and title within ${DEDUPE_GAP} of similarity; the best-ranked stays`),
  explain: z.boolean().default(false).describe("Each result's score parts: `explain: { similarity, boosts, pinned, buried, score }`"),
});

export type Ranking = z.infer<typeof rankingSchema>;

export interface RankCandidate {
  id: string;
  similarity: number;
  brand?: string | null;
  title?: string | null;
  imageHash?: string | null;
  signals?: Record<string, number> | null;
}

export interface Explanation {
  similarity: number;
  boosts: Record<string, number>;
  pinned: boolean;
  buried: boolean;
  /** The ranking score: similarity + the boosts. */
  score: number;
}

/** A ranked candidate: `tier` 0 pinned (by pin order), 1 the rest, 2 buried; then `score`, best first. */
export interface RankedCandidate<T extends RankCandidate> {
  candidate: T;
  id: string;
  tier: number;
  score: number;
  explain: Explanation;
}

/** Whether any rule changes the order of the similarity ranking. */
export const reranks = (ranking: Partial<Ranking>): boolean => Boolean(ranking.boost || ranking.pin || ranking.bury || ranking.max_per_brand || ranking.dedupe);

/** The candidates in ranking order, with the folds and brand limits applied. */
export function rank<T extends RankCandidate>(candidates: T[], ranking: Partial<Ranking>): Array<RankedCandidate<T>> {
  const pins = new Map((ranking.pin ?? []).map((id, i) => [id, i]));
  const buried = new Set(ranking.bury ?? []);
  const scored = candidates.map((candidate) => {
    const boosts = Object.fromEntries((ranking.boost ?? []).map(({ signal, weight }) => [signal, weight * (candidate.signals?.[signal] ?? 0)]));
    const score = candidate.similarity + Object.values(boosts).reduce((sum, value) => sum + value, 0);
    const pin = pins.get(candidate.id);
    const tier = pin !== undefined ? 0 : buried.has(candidate.id) ? 2 : 1;
    // Pinned products keep the order given: their score is their place.
    return { candidate, id: candidate.id, tier, score: pin !== undefined ? -pin : score, explain: { similarity: candidate.similarity, boosts, pinned: pin !== undefined, buried: tier === 2, score } };
  });
  scored.sort(byTier);
  const kept: Array<RankedCandidate<T>> = [];
  const perBrand = new Map<string, number>();
  for (const entry of scored) {
    const { candidate } = entry;
    if (ranking.dedupe && kept.some((other) => duplicates(other.candidate, candidate))) continue;
    if (ranking.max_per_brand !== undefined && candidate.brand) {
      const count = perBrand.get(candidate.brand) ?? 0;
      if (count >= ranking.max_per_brand) continue;
      perBrand.set(candidate.brand, count + 1);
    }
    kept.push(entry);
  }
  return kept;
}

/** Tier first, then score (best first), then id: one total order, the same in every search. */
export function byTier(a: { tier: number; score: number; id: string }, b: { tier: number; score: number; id: string }): number {
  return a.tier - b.tier || b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function duplicates(a: RankCandidate, b: RankCandidate): boolean {
  if (a.imageHash && a.imageHash === b.imageHash) return true;
  return Boolean(a.brand && a.title) && a.brand === b.brand && a.title === b.title && Math.abs(a.similarity - b.similarity) < DEDUPE_GAP;
}
