import { VERDICT_THRESHOLDS, verdict, verdictFeatures } from '../../../../core/search/verdict';

describe('match verdict', () => {
  const t = { goodStrength: 0.99, noneTop: 0.85, noneMargin: 0.03 };

  it('reads the top score, its lead over the second, and how far it stands out from the median of the rest', () => {
    expect(verdictFeatures([0.95, 0.8, 0.7, 0.6])).toEqual({ top: 0.95, gap: expect.closeTo(0.15, 10), margin: expect.closeTo(0.25, 10) });
    expect(verdictFeatures([0.6, 0.9, 0.8])).toEqual({ top: 0.9, gap: expect.closeTo(0.1, 10), margin: expect.closeTo(0.2, 10) });
    expect(verdictFeatures([0.8])).toEqual({ top: 0.8, gap: 0, margin: Infinity });
  });

  it('good needs a high score clearly ahead of the second; the same top score among equals is not good', () => {
    expect(verdict([0.96, 0.9, 0.88, 0.87], t)).toBe('good');
    expect(verdict([0.96, 0.95, 0.9, 0.9], t)).toBe('weak');
    expect(verdict([0.9, 0.85, 0.8, 0.8], t)).toBe('weak');
  });

  it('none when nothing is similar, or nothing stands out at all', () => {
    expect(verdict([0.8, 0.7, 0.6], t)).toBe('none');
    expect(verdict([0.9, 0.895, 0.89, 0.885], t)).toBe('none');
    expect(verdict([], t)).toBe('none');
  });

  it('one result (filters that match one product) is judged by its score alone, conservatively', () => {
    expect(verdict([0.995], t)).toBe('good');
    expect(verdict([0.95], t)).toBe('weak');
    expect(verdict([0.8], t)).toBe('none');
  });

  it('the committed thresholds are in range', () => {
    expect(VERDICT_THRESHOLDS.noneTop).toBeLessThan(VERDICT_THRESHOLDS.goodStrength);
    expect(VERDICT_THRESHOLDS.noneMargin).toBeGreaterThan(0);
  });
});
