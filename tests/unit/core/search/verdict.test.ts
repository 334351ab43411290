import { VERDICT_DEPTH, VERDICT_THRESHOLDS, verdict, verdictFeatures } from '../../../../core/search/verdict';

/**
 * The calibrated rule (benchmarks/results/match-verdict.md): `good` when top + (top − second) ≥ 0.988; otherwise
 * `none` when top < 0.8575 or top − median(ranks 2 … 10) < 0.0325; otherwise `weak`. Each threshold is tested one
 * score step on either side (the search service rounds scores to 4 decimals, so 0.0001 is the finest difference a
 * query can show) and, where floating point makes the value exact, at the threshold itself.
 */
describe('match verdict', () => {
  it('reads the top score, its lead over the second, and how far it stands out from the median of the rest', () => {
    expect(verdictFeatures([0.95, 0.8, 0.7, 0.6])).toEqual({ top: 0.95, gap: expect.closeTo(0.15, 10), margin: expect.closeTo(0.25, 10) });
    expect(verdictFeatures([0.6, 0.9, 0.8])).toEqual({ top: 0.9, gap: expect.closeTo(0.1, 10), margin: expect.closeTo(0.2, 10) });
    expect(verdictFeatures([0.8])).toEqual({ top: 0.8, gap: 0, margin: Infinity });
    expect(verdict([])).toBe('none');
  });

  it('the committed thresholds are the calibrated ones', () => {
    expect(VERDICT_THRESHOLDS).toEqual({ goodStrength: 0.988, noneTop: 0.8575, noneMargin: 0.0325 });
    expect(VERDICT_DEPTH).toBe(10);
  });

  describe('good: top + (top − second) ≥ 0.988', () => {
    // Ranks 3 … 10 well below: whatever is not good here is weak (top ≥ 0.8575, margin 0.1).
    const rest = Array.from({ length: 8 }, () => 0.85);

    it('one step below is weak; one step above is good', () => {
      expect(verdict([0.95, 0.9121, ...rest])).toBe('weak'); // 0.9879
      expect(verdict([0.95, 0.9119, ...rest])).toBe('good'); // 0.9881
    });

    it('exactly at the threshold is good', () => {
      expect(0.9 + (0.9 - 0.812)).toBe(0.988);
      expect(verdict([0.9, 0.812, ...rest.map(() => 0.8)])).toBe('good');
      // One result has no second to be told apart from (gap 0): its score alone must reach the threshold.
      expect(verdict([0.988])).toBe('good');
      expect(verdict([0.9879])).toBe('weak');
    });

    it('a tie at the top is never good below the threshold, however high', () => {
      expect(verdict([0.987, 0.987, ...rest])).toBe('weak');
      expect(verdict([0.988, 0.988, ...rest])).toBe('good');
    });
  });

  describe('none: top < 0.8575', () => {
    // Second 0.80 (strength 0.915: not good), ranks 3 … 10 at 0.79 (margin 0.0675: stands out enough).
    const rest = [0.8, ...Array.from({ length: 8 }, () => 0.79)];

    it('one step below is none; at the threshold is weak', () => {
      expect(verdict([0.8574, ...rest])).toBe('none');
      expect(verdict([0.8575, ...rest])).toBe('weak');
      expect(verdict([0.8574])).toBe('none');
      expect(verdict([0.8575])).toBe('weak');
    });
  });

  describe('none: top − median(ranks 2 … 10) < 0.0325', () => {
    // Top 0.95, second 0.93 (strength 0.97: not good); of ranks 2 … 10 the median is rank 6.
    const ranked = (rank6: number) => [0.95, 0.93, 0.925, 0.92, 0.919, rank6, 0.91, 0.905, 0.9, 0.89];

    it('one step below is none; one step above is weak', () => {
      expect(verdict(ranked(0.9176))).toBe('none'); // margin 0.0324
      expect(verdict(ranked(0.9174))).toBe('weak'); // margin 0.0326
    });

    it('only ranks 2 … 10 count: scores further down (a larger k) do not move the median', () => {
      const tail = Array.from({ length: 14 }, () => 0.5);
      expect(verdict([...ranked(0.9176), ...tail])).toBe('none');
      expect(verdict([...ranked(0.9174), ...tail])).toBe('weak');
      expect(verdictFeatures([...ranked(0.9176), ...tail])).toEqual(verdictFeatures(ranked(0.9176)));
    });
  });
});
