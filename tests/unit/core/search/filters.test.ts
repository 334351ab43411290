import { buildFilterClauses, catalogFilter, filtersSchema, knnClause, knnFilter, matchesFilters } from '../../../../core/search/filters';

describe('filters', () => {
  it('turns each filter into a clause', () => {
    const filters = filtersSchema.parse({ price: { gte: 10, lte: 50 }, sizes: ['M', 'L', 'M'], available: true, brand: ['acme'], category: ['shoes'], color: ['red'] });
    expect(buildFilterClauses(filters)).toEqual([
      { range: { price: { gte: 10, lte: 50 } } },
      { term: { available: true } },
      { terms: { sizes: ['M', 'L'] } },
      { terms: { brand: ['acme'] } },
      { terms: { category: ['shoes'] } },
      { terms: { color: ['red'] } },
    ]);
    expect(buildFilterClauses(undefined)).toEqual([]);
    expect(buildFilterClauses({ price: {} })).toEqual([]);
  });

  it('refuses unknown fields, wrong types and inverted ranges', () => {
    expect(filtersSchema.safeParse({ script: 'x' }).success).toBe(false);
    expect(filtersSchema.safeParse({ price: { gte: '10' } }).success).toBe(false);
    expect(filtersSchema.safeParse({ price: { gte: 50, lte: 10 } }).success).toBe(false);
    expect(filtersSchema.safeParse({ price: { gt: 1 } }).success).toBe(false);
    expect(filtersSchema.safeParse({ sizes: [] }).success).toBe(false);
    expect(filtersSchema.safeParse({ brand: [{ match_all: {} }] }).success).toBe(false);
    expect(filtersSchema.safeParse({ available: 'yes' }).success).toBe(false);
  });

  it('matchesFilters agrees with the clause semantics', () => {
    const product = { price: 20, sizes: ['M'], available: true, brand: 'acme', category: 'shoes', color: 'red' };
    expect(matchesFilters(product, { price: { gte: 20, lte: 20 } })).toBe(true);
    expect(matchesFilters(product, { price: { gte: 20.01 } })).toBe(false);
    expect(matchesFilters(product, { sizes: ['S', 'M'] })).toBe(true);
    expect(matchesFilters(product, { sizes: ['S'] })).toBe(false);
    expect(matchesFilters(product, { available: false })).toBe(false);
    expect(matchesFilters({ ...product, brand: undefined }, { brand: ['acme'] })).toBe(false);
  });

  it('builds a kNN clause with its pre-filter', () => {
    expect(knnClause({ field: 'vectors.a', vector: [1, 0], k: 10, numCandidates: 5, filters: [{ term: { available: true } }], boost: 0.7 })).toEqual({
      field: 'vectors.a', query_vector: [1, 0], k: 10, num_candidates: 10, filter: [{ term: { available: true } }], boost: 0.7,
    });
  });

  it('joins several filter clauses to the photos once: one bool of them, the same conjunction', () => {
    const clauses = buildFilterClauses({ price: { lte: 100 }, available: true, sizes: ['M'] });
    expect(clauses).toHaveLength(3);
    expect(knnClause({ field: 'vectors.a', vector: [1, 0], k: 10, numCandidates: 100, filters: clauses }).filter).toEqual([{ bool: { filter: clauses } }]);
    expect(knnFilter([])).toEqual([]);
    expect(knnFilter(clauses.slice(0, 1))).toEqual(clauses.slice(0, 1));
  });
});

describe('catalogFilter', () => {
  it('a named catalog is a term; the default catalog also holds documents written before catalogs', () => {
    expect(catalogFilter('store-a')).toEqual({ term: { catalog: 'store-a' } });
    expect(catalogFilter('default')).toEqual({ bool: { should: [{ term: { catalog: 'default' } }, { bool: { must_not: { exists: { field: 'catalog' } } } }], minimum_should_match: 1 } });
  });
});
