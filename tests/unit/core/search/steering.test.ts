import { steer, steeringItemSchema } from '../../../../core/search/steering';

describe('steer', () => {
  it('adds liked and subtracts unliked unit vectors with their weights, per model, and normalises', () => {
    const steered = steer({ m: [2, 0] }, [{ vectors: { m: [0, 5] }, weight: 1, sign: 1 }]);
    expect(steered.m![0]).toBeCloseTo(Math.SQRT1_2);
    expect(steered.m![1]).toBeCloseTo(Math.SQRT1_2);
    const away = steer({ m: [1, 0] }, [{ vectors: { m: [1, 1] }, weight: Math.SQRT2, sign: -1 }]);
    expect(away.m![0]).toBeCloseTo(0);
    expect(away.m![1]).toBeCloseTo(-1);
  });

  it('a thing without a vector for a model leaves that model alone; weight 0 changes nothing', () => {
    const steered = steer({ a: [1, 0], b: [0, 3] }, [{ vectors: { a: [0, 1] }, weight: 1, sign: 1 }, { vectors: { b: [1, 0] }, weight: 0, sign: -1 }]);
    expect(steered.b).toEqual([0, 1]);
    expect(steered.a![1]).toBeCloseTo(Math.SQRT1_2);
  });

  it('refuses a query that steering cancels, and a vector of the wrong length', () => {
    expect(() => steer({ m: [1, 0] }, [{ vectors: { m: [3, 0] }, weight: 1, sign: -1 }])).toThrow(expect.objectContaining({ code: 'invalid_vector' }));
    expect(() => steer({ m: [1, 0] }, [{ vectors: { m: [1, 0, 0] }, weight: 1, sign: 1 }])).toThrow(expect.objectContaining({ code: 'vector_length_mismatch' }));
  });

  it('an item names exactly one thing', () => {
    expect(steeringItemSchema.parse({ product_id: 'p' })).toEqual({ product_id: 'p' });
    expect(steeringItemSchema.safeParse({ product_id: 'p', query_id: 'q' }).success).toBe(false);
    expect(steeringItemSchema.safeParse({ weight: 2 }).success).toBe(false);
  });
});
