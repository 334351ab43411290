import { distinctSecond, lookedAt, productCosine, type NearDuplicateSettings } from '../../../../core/localization/near-duplicates';

const settings: NearDuplicateSettings = { threshold: 0.8, depth: 3, gap: 0.1 };
const hits = (...cosines: number[]) => cosines.map((cosine, n) => ({ id: `p${n}`, cosine }));

describe('a lead that passes over near-duplicates', () => {
  it('looks at the first result and the next `depth` only where the lead is small, never when off', () => {
    expect(lookedAt(hits(0.8, 0.79, 0.6, 0.5, 0.4), settings).map((hit) => hit.id)).toEqual(['p0', 'p1', 'p2', 'p3']);
    expect(lookedAt(hits(0.8, 0.65, 0.6), settings)).toEqual([]);
    expect(lookedAt(hits(0.8, 0.79), settings)).toEqual([]);
    expect(lookedAt(hits(0.8, 0.79, 0.6), { ...settings, threshold: 0 })).toEqual([]);
  });

  it('compares products by their most alike photos', () => {
    expect(productCosine([[1, 0]], [[0, 1], [1, 0.1]])).toBeCloseTo(0.995, 3);
    expect(productCosine([[1, 0]], [])).toBe(0);
    expect(productCosine([[1, 0]], [[0, 1]])).toBe(0);
  });

  it('takes the lead over the first result that is not a near-duplicate of the first', () => {
    // p1 is p0 recoloured (cosine 0.98 between their photos), p2 another product, p3 another still.
    const photos = new Map([
      ['p0', [[1, 0, 0]]],
      ['p1', [[0.98, 0.2, 0]]],
      ['p2', [[0.3, 0, 1]]],
      ['p3', [[0, 1, 0]]],
    ]);
    expect(distinctSecond(hits(0.8, 0.79, 0.6, 0.5), photos, settings)).toBe(0.6);
    // Every rival a near-duplicate: the last of those looked at.
    const alike = new Map([...photos, ['p2', [[1, 0.1, 0]]], ['p3', [[1, 0, 0.1]]]]);
    expect(distinctSecond(hits(0.8, 0.79, 0.6, 0.5), alike, settings)).toBe(0.5);
    // A rival not near the first: the plain second; photos not read back count as distinct.
    expect(distinctSecond(hits(0.8, 0.75, 0.6, 0.5), new Map([['p0', [[1, 0, 0]]], ['p1', [[0, 1, 0]]]]), settings)).toBe(0.75);
    expect(distinctSecond(hits(0.8, 0.79, 0.6), new Map(), settings)).toBe(0.79);
    // A clear lead is left as it is.
    expect(distinctSecond(hits(0.8, 0.6, 0.5), photos, settings)).toBeUndefined();
  });
});
