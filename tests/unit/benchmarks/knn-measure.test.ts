import { exactCopyProperties, knnRequest, recall } from '../../../benchmarks/lib/knn-measure';

describe('kNN against exact', () => {
  const filters = [{ term: { available: true } }];

  it('the exact request is the approximate one on the flat copy, nothing else changed but the photo\'s inner hits', () => {
    const approx = knnRequest('m', [0.6, 0.8], filters, { exact: false, numCandidates: 50 });
    const exact = knnRequest('m', [0.6, 0.8], filters, { exact: true, numCandidates: 50 });
    expect(approx.knn).toEqual([expect.objectContaining({ field: 'photos.vectors.m', k: 10, num_candidates: 50, filter: filters, inner_hits: expect.anything() })]);
    const { inner_hits: _photo, ...clause } = (approx.knn as Array<Record<string, unknown>>)[0]!;
    expect(exact).toEqual({ ...approx, knn: [{ ...clause, field: 'exact.m' }] });
  });

  it('the copy is mapped as the catalog field, but flat', () => {
    const properties = exactCopyProperties([{ modelId: 'm', dims: 2, index: { type: 'int8_hnsw', m: 16, efConstruction: 100, oversample: 3 } }]);
    expect(properties).toEqual({ exact: { type: 'object', dynamic: 'strict', properties: { m: { type: 'dense_vector', dims: 2, index: true, similarity: 'cosine', index_options: { type: 'flat' } } } } });
  });

  it('recall@10: the share of the exact top 10 found, 1 when nothing passes the filters', () => {
    const exact = Array.from({ length: 12 }, (_, i) => `p${i}`);
    expect(recall(exact.slice(0, 10), exact)).toBe(1);
    expect(recall(['p0', 'p1', 'x', 'p11'], exact)).toBe(0.2);
    expect(recall(['p1', 'p0'], ['p0', 'p1'])).toBe(1);
    expect(recall([], [])).toBe(1);
  });
});
