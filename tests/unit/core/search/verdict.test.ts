import { VERDICT_THRESHOLDS, verdict, verdictFeatures } from '../../../../core/search/verdict';

describe('match verdict', () => {
  const t = { goodTop: 0.9, goodMargin: 0.05, noneTop: 0.75, noneMargin: 0.01 };

  it('reads the top score and how far it stands out from the median of the rest', () => {
    expect(verdictFeatures([0.95, 0.8, 0.7, 0.6])).toEqual({ top: 0.95, margin: expect.closeTo(0.25, 10) });
    expect(verdictFeatures([0.9, 0.8, 0.7])).toEqual({ top: 0.9, margin: expect.closeTo(0.15, 10) });
    expect(verdictFeatures([0.6, 0.9, 0.8])).toEqual({ top: 0.9, margin: expect.closeTo(0.2, 10) });
    expect(verdictFeatures([0.8])).toEqual({ top: 0.8, margin: Infinity });
  });

  it('good needs a high score that stands out; the same top score among equals is not good', () => {
    expect(verdict([0.95, 0.85, 0.84, 0.83], t)).toBe('good');
    expect(verdict([0.95, 0.94, 0.94, 0.93], t)).toBe('weak');
    expect(verdict([0.88, 0.7, 0.7], t)).toBe('weak');
  });

  it('none when nothing is similar, or nothing stands out at all', () => {
    expect(verdict([0.7, 0.5, 0.4], t)).toBe('none');
    expect(verdict([0.85, 0.845, 0.845, 0.84], t)).toBe('none');
    expect(verdict([], t)).toBe('none');
  });

  it('one result is judged by its score alone', () => {
    expect(verdict([0.93], t)).toBe('good');
    expect(verdict([0.8], t)).toBe('weak');
  });

  it('the committed thresholds are ordered', () => {
    expect(VERDICT_THRESHOLDS.noneTop).toBeLessThanOrEqual(VERDICT_THRESHOLDS.goodTop);
    expect(VERDICT_THRESHOLDS.noneMargin).toBeLessThanOrEqual(VERDICT_THRESHOLDS.goodMargin);
  });
});
