import { documentedVectorBytes } from '../../../benchmarks/lib/index-footprint';

describe('documentedVectorBytes (Elasticsearch "Tune approximate kNN search")', () => {
  it('int8: n × (dims + 4), int4: n × (dims / 2 + 4), bbq: n × (dims / 8 + 14), float: n × dims × 4; HNSW graph n × 4 × m', () => {
    expect(documentedVectorBytes('int8_hnsw', 1280, 16, 1e6)).toEqual({ vectors: 1284e6, graph: 64e6 });
    expect(documentedVectorBytes('int4_hnsw', 1280, 16, 1e6)).toEqual({ vectors: 644e6, graph: 64e6 });
    expect(documentedVectorBytes('bbq_hnsw', 1280, 16, 1e6)).toEqual({ vectors: 174e6, graph: 64e6 });
    expect(documentedVectorBytes('hnsw', 288, 32, 10)).toEqual({ vectors: 288 * 4 * 10, graph: 10 * 4 * 32 });
    expect(documentedVectorBytes('flat', 288, 16, 10)).toEqual({ vectors: 288 * 4 * 10, graph: 0 });
    expect(documentedVectorBytes('int8_flat', 288, 16, 10)).toEqual({ vectors: 292 * 10, graph: 0 });
  });

  it("the issue's arithmetic: int8 for both fields is over 1.5 GiB per million products", () => {
    const both = ['int8_hnsw', 'int8_hnsw'] as const;
    const total = both.reduce((sum, type, i) => {
      const bytes = documentedVectorBytes(type, [1280, 288][i]!, 16, 1e6);
      return sum + bytes.vectors + bytes.graph;
    }, 0);
    expect(total).toBeGreaterThan(1.5 * 2 ** 30);
  });
});
