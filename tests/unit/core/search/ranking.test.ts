import { rank, rankingSchema } from '../../../../core/search/ranking';

const candidates = [
  { id: 'a', similarity: 0.9, brand: 'x', title: 'A', imageHash: 'h1' },
  { id: 'b', similarity: 0.85, brand: 'x', title: 'B', imageHash: 'h2', signals: { popularity: 1 } },
  { id: 'c', similarity: 0.84, brand: 'y', title: 'C', imageHash: 'h1' },
  { id: 'd', similarity: 0.8, brand: 'x', title: 'B', imageHash: 'h4' },
  { id: 'e', similarity: 0.848, brand: 'x', title: 'B', imageHash: 'h5' },
];
const order = (ranking: Parameters<typeof rank>[1]) => rank(candidates, ranking).map((entry) => entry.id);

describe('rank', () => {
  it('without rules: by similarity', () => {
    expect(order({})).toEqual(['a', 'b', 'e', 'c', 'd']);
  });

  it('boost adds weight · signal (absent: 0), and explains it', () => {
    const ranked = rank(candidates, { boost: [{ signal: 'popularity', weight: 0.1 }] });
    expect(ranked.map((entry) => entry.id)).toEqual(['b', 'a', 'e', 'c', 'd']);
    expect(ranked[0]!.explain).toEqual({ similarity: 0.85, boosts: { popularity: 0.1 }, pinned: false, buried: false, score: 0.95 });
    expect(ranked[1]!.explain.boosts).toEqual({ popularity: 0 });
  });

  it('pin first in the order given, bury last, whatever the boosts', () => {
    expect(order({ pin: ['d', 'c'], bury: ['a'], boost: [{ signal: 'popularity', weight: 10 }] })).toEqual(['d', 'c', 'b', 'e', 'a']);
  });

  it('max_per_brand keeps the best-ranked of each brand', () => {
    expect(order({ max_per_brand: 1 })).toEqual(['a', 'c']);
  });

  it('dedupe folds the same image, and the same brand and title within the gap', () => {
    // c has a's image; e is b (same brand and title) 0.002 apart; d is b's title too but 0.05 apart.
    expect(order({ dedupe: true })).toEqual(['a', 'b', 'd']);
  });

  it('options: signal names and weights are checked', () => {
    expect(rankingSchema.safeParse({ boost: [{ signal: 'Pop ularity', weight: 1 }] }).success).toBe(false);
    expect(rankingSchema.safeParse({ boost: [{ signal: 'popularity', weight: 11 }] }).success).toBe(false);
    expect(rankingSchema.parse({})).toEqual({ dedupe: false, explain: false });
  });
});
