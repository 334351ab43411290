import type { Client } from '@elastic/elasticsearch';
import { MAX_IMAGES } from '../../../../core/catalog';
import { buildCandidatesBodies, buildFusionBody, candidateIds, fusionCandidates, hybridCandidates, buildSearchBody, idsOf, FACETS, numCandidatesFor, PRODUCT_FIELDS, searchCatalog, searchCatalogMany } from '../../../../core/search/catalog-search';
import { MAX_NUM_CANDIDATES } from '../../../../core/search/search-request';
import { PartialResultsError, searchFailure } from '../../../../core/search/elasticsearch';

describe('catalog search', () => {
  const vectors = { a: [1, 0], b: [0, 1, 0] };
  const filters = [{ term: { available: true } }];

  it('one model: one pre-filtered kNN clause returning size hits', () => {
    expect(buildSearchBody({ vectors: { a: [1, 0] }, weights: { a: 2 }, size: 10, filters, mode: 'knn', facets: false })).toEqual({
      size: 10,
      _source: PRODUCT_FIELDS,
      knn: [{ field: 'photos.vectors.a', query_vector: [1, 0], k: 10, num_candidates: 100, filter: filters, boost: 1, inner_hits: { name: 'a', size: 1, _source: false, stored_fields: ['_none_'] } }],
    });
  });

  it('hybrid step 1: the model weighted most proposes the candidates, ids only', () => {
    const lead = { field: 'photos.vectors.a', query_vector: [1, 0], k: 100, num_candidates: 100, filter: filters, boost: 0.75 };
    expect(buildCandidatesBodies({ vectors, weights: { a: 3, b: 1 }, size: 10, candidates: 'lead', filters, mode: 'knn', facets: false })).toEqual([{ size: 100, _source: false, stored_fields: ['_none_'], docvalue_fields: ['id', 'catalog'], knn: [lead] }]);
    const fields = (weights: Record<string, number>) => buildCandidatesBodies({ vectors, weights, size: 10, candidates: 'lead', filters, mode: 'knn', facets: false }).map((body) => (body.knn as Array<{ field: string }>).map((clause) => clause.field));
    // Whichever model that is; the first of equals.
    expect(fields({ a: 1, b: 3 })).toEqual([['photos.vectors.b']]);
    expect(fields({ a: 1, b: 1 })).toEqual([['photos.vectors.a']]);
  });

  it('HYBRID_CANDIDATES auto: the model weighted most without filters or with filters most products pass, every model otherwise', () => {
    expect(hybridCandidates('auto', false)).toBe('lead');
    // A filter whose share is not known yet: every model.
    expect(hybridCandidates('auto', true)).toBe('all');
    expect(hybridCandidates('auto', true, 0.05)).toBe('all');
    expect(hybridCandidates('auto', true, 0.5)).toBe('lead');
    expect(hybridCandidates('auto', true, 0.25)).toBe('lead');
    expect(hybridCandidates('auto', true, 0.2499)).toBe('all');
    expect(hybridCandidates('auto', true, 0.5, 0.6)).toBe('all');
    // The other settings never look at the share.
    expect(hybridCandidates('lead', true, 0.01)).toBe('lead');
    expect(hybridCandidates('all', false)).toBe('all');
    expect(hybridCandidates('all', true, 1)).toBe('all');
  });

  it("hybrid step 1 with candidates 'all' (the default): a request per model (sent together), each returning all its candidates", () => {
    const all = buildCandidatesBodies({ vectors, weights: { a: 3, b: 1 }, size: 10, candidates: 'all', filters, mode: 'knn', facets: false });
    expect(buildCandidatesBodies({ vectors, weights: { a: 3, b: 1 }, size: 10, filters, mode: 'knn', facets: false })).toEqual(all);
    expect(all).toEqual([
      { size: 100, _source: false, stored_fields: ['_none_'], docvalue_fields: ['id', 'catalog'], knn: [{ field: 'photos.vectors.a', query_vector: [1, 0], k: 100, num_candidates: 100, filter: filters, boost: 0.75 }] },
      { size: 100, _source: false, stored_fields: ['_none_'], docvalue_fields: ['id', 'catalog'], knn: [{ field: 'photos.vectors.b', query_vector: [0, 1, 0], k: 100, num_candidates: 100, filter: filters, boost: 0.25 }] },
    ]);
  });

  it('the candidates are every model\'s hits once, at most MAX_NUM_CANDIDATES taken rank by rank', () => {
    expect(candidateIds([[{ _id: 'p1' }, { _id: 'p2' }], [{ _id: 'p3' }, { _id: 'p1' }, { _id: 'p4' }]])).toEqual(['p1', 'p3', 'p2', 'p4']);
    expect(candidateIds([[], []])).toEqual([]);
    const many = (prefix: string) => Array.from({ length: MAX_NUM_CANDIDATES }, (_, i) => ({ _id: `${prefix}${i}` }));
    const capped = candidateIds([many('a'), many('b')]);
    expect(capped).toHaveLength(MAX_NUM_CANDIDATES);
    expect(capped.slice(0, 4)).toEqual(['a0', 'b0', 'a1', 'b1']);
    expect(capped).toContain(`b${MAX_NUM_CANDIDATES / 2 - 1}`);
  });

  it('hybrid step 2: the same clauses over exactly the candidates, so each gets every model share; num_candidates covers every photo they may have (an exact search)', () => {
    const candidates = ['p1', 'p2', 'p3'];
    const restricted = [{ bool: { filter: [...filters, { ids: { values: candidates } }] } }];
    expect(buildFusionBody({ vectors, weights: { a: 3, b: 1 }, size: 2, filters, mode: 'knn', facets: true }, candidates)).toEqual({
      size: 2,
      _source: PRODUCT_FIELDS,
      knn: [
        { field: 'photos.vectors.a', query_vector: [1, 0], k: 3, num_candidates: 3 * MAX_IMAGES, filter: restricted, boost: 0.75, inner_hits: { name: 'a', size: 1, _source: false, stored_fields: ['_none_'] } },
        { field: 'photos.vectors.b', query_vector: [0, 1, 0], k: 3, num_candidates: 3 * MAX_IMAGES, filter: restricted, boost: 0.25, inner_hits: { name: 'b', size: 1, _source: false, stored_fields: ['_none_'] } },
      ],
      aggs: FACETS,
    });
  });

  it('clamps num_candidates to [size, 10000]; facets count every candidate', () => {
    expect(fusionCandidates(200)).toBe(200 * MAX_IMAGES);
    expect(fusionCandidates(5000)).toBe(10_000);
    expect(numCandidatesFor(10)).toBe(100);
    expect(numCandidatesFor(50)).toBe(500);
    expect(numCandidatesFor(20, 5)).toBe(20);
    expect(numCandidatesFor(100, 50_000)).toBe(10_000);
    const body = buildSearchBody({ vectors: { a: [1, 0] }, weights: { a: 1 }, size: 5, numCandidates: 40, filters: [], mode: 'knn', facets: true });
    expect(body.aggs).toBe(FACETS);
    expect((body.knn as Array<Record<string, unknown>>)[0]).toEqual({ field: 'photos.vectors.a', query_vector: [1, 0], k: 40, num_candidates: 40, boost: 1, inner_hits: { name: 'a', size: 1, _source: false, stored_fields: ['_none_'] } });
  });

  it('exact mode: the same weighted cosine as a script_score over the photos of the filtered products, each product scored by its best photo', () => {
    const body = buildSearchBody({ vectors, weights: { a: 1, b: 1 }, size: 3, filters: [{ term: { brand: 'acme' } }], mode: 'exact', facets: false });
    expect(body.knn).toBeUndefined();
    expect(body.query).toEqual({
      bool: {
        filter: [{ term: { brand: 'acme' } }],
        must: [
          {
            nested: {
              path: 'photos',
              score_mode: 'max',
              inner_hits: { name: 'exact', size: 1, _source: false, stored_fields: ['_none_'] },
              query: {
                script_score: {
                  query: { bool: { filter: [{ exists: { field: 'photos.vectors.a' } }, { exists: { field: 'photos.vectors.b' } }] } },
                  script: {
                    source: "params.w0 * (cosineSimilarity(params.q0, 'photos.vectors.a') + 1.0) / 2.0 + params.w1 * (cosineSimilarity(params.q1, 'photos.vectors.b') + 1.0) / 2.0",
                    params: { q0: [1, 0], w0: 0.5, q1: [0, 1, 0], w1: 0.5 },
                  },
                },
              },
            },
          },
        ],
      },
    });
  });

  it('idsOnly: one model asked as a hybrid\'s step 1 asks it (ids and scores, size candidates, no fields or matched photo)', () => {
    const asked = buildSearchBody({ vectors: { a: [1, 0] }, weights: { a: 1 }, size: 100, numCandidates: 100, filters, mode: 'knn', facets: false, idsOnly: true });
    const step1 = buildCandidatesBodies({ vectors, weights: { a: 3, b: 1 }, size: 10, candidates: 'lead', filters, mode: 'knn', facets: false })[0]!;
    // The same search but for the boost, which scales every score alike.
    expect({ ...asked, knn: (asked.knn as Array<Record<string, unknown>>).map(({ boost: _boost, ...clause }) => clause) }).toEqual({ ...step1, knn: (step1.knn as Array<Record<string, unknown>>).map(({ boost: _boost, ...clause }) => clause) });
    expect(() => buildSearchBody({ vectors: { a: [1, 0] }, weights: { a: 1 }, size: 100, filters, mode: 'exact', facets: false, idsOnly: true })).toThrow();
  });

  it('ids-only hits get their _id back from the id and catalog doc values (no stored field read)', () => {
    expect(idsOf([{ _score: 1, fields: { id: ['sku-1'], catalog: ['default'] } }, { _score: 0.9, fields: { id: ['sku-1'], catalog: ['store-b'] } }, { _score: 0.8, fields: { id: ['old'] } }])).toEqual([
      { _id: 'sku-1', _score: 1, fields: { id: ['sku-1'], catalog: ['default'] } },
      { _id: 'store-b sku-1', _score: 0.9, fields: { id: ['sku-1'], catalog: ['store-b'] } },
      // A product written before catalogs: the default catalog's.
      { _id: 'old', _score: 0.8, fields: { id: ['old'] } },
    ]);
    // A hit with its _id keeps it.
    expect(idsOf([{ _id: 'p1', fields: { id: ['other'] } }])[0]!._id).toBe('p1');
  });

  it('knownCandidates: a hybrid runs its fusion alone over them (searchCatalog and searchCatalogMany)', async () => {
    const requests: Array<Record<string, unknown>> = [];
    const fused = { hits: { hits: [{ _id: 'p2', _score: 0.9 }] } };
    const es = {
      msearch: async (request: { searches: Array<Record<string, unknown>> }) => (requests.push(...request.searches.filter((_, i) => i % 2 === 1)), { responses: request.searches.filter((_, i) => i % 2 === 1).map(() => fused) }),
      search: async (request: Record<string, unknown>) => (requests.push(request), fused),
    } as unknown as Client;
    const known = { vectors, weights: { a: 1, b: 1 }, size: 1, filters, mode: 'knn' as const, facets: false, knownCandidates: ['p1', 'p2'] };
    expect((await searchCatalog(es, 'products', known)).hits).toEqual(fused.hits.hits);
    expect((await searchCatalogMany(es, 'products', [known]))[0]!.hits).toEqual(fused.hits.hits);
    const fusion = buildFusionBody(known, ['p1', 'p2']);
    // searchCatalog's search request names its index and refuses partial results; an msearch entry says so in its header.
    expect(requests).toEqual([{ index: 'products', allow_partial_search_results: false, ...fusion }, fusion]);
  });

  it('refuses a search with no weighted vector', () => {
    expect(() => buildSearchBody({ vectors: {}, weights: {}, size: 1, filters: [], mode: 'knn', facets: false })).toThrow();
    expect(() => buildSearchBody({ vectors: { a: [1] }, weights: { a: 0 }, size: 1, filters: [], mode: 'knn', facets: false })).toThrow();
  });

  it('runs a hybrid as candidates (one msearch, a request per model) then fusion, and stops after step 1 when nothing matches', async () => {
    const requests: Array<Record<string, unknown>> = [];
    const candidates = [{ hits: { hits: [{ _id: 'p1' }, { _id: 'p2' }] } }, { hits: { hits: [{ _id: 'p3' }, { _id: 'p1' }] } }];
    const es = {
      msearch: async (request: { searches: Array<Record<string, unknown>> }) => (requests.push(...request.searches.filter((_, i) => i % 2 === 1)), { responses: candidates }),
      search: async (request: Record<string, unknown>) => (requests.push(request), { hits: { hits: [{ _id: 'p2', _score: 0.9, _source: { title: 'x' } }] } }),
    } as unknown as Client;
    const response = await searchCatalog(es, 'products', { vectors, weights: { a: 1, b: 1 }, size: 1, filters: [], mode: 'knn', facets: false });
    expect(response).toEqual({ hits: [{ _id: 'p2', _score: 0.9, _source: { title: 'x' } }], aggregations: undefined });
    expect(requests).toHaveLength(3);
    expect(requests.slice(0, 2).map((request) => (request.knn as Array<{ field: string }>).map((clause) => clause.field))).toEqual([['photos.vectors.a'], ['photos.vectors.b']]);
    const union = { ids: { values: ['p1', 'p3', 'p2'] } };
    expect(requests[2]!.knn).toEqual([expect.objectContaining({ filter: [union] }), expect.objectContaining({ filter: [union] })]);

    let emptyRequests = 0;
    const empty = { msearch: async () => (emptyRequests++, { responses: [{ hits: { hits: [] } }, { hits: { hits: [] } }] }), search: async () => (emptyRequests++, { hits: { hits: [] } }) } as unknown as Client;
    expect(await searchCatalog(empty, 'products', { vectors, weights: { a: 1, b: 1 }, size: 1, filters: [], mode: 'knn', facets: true })).toEqual({ hits: [], aggregations: {} });
    expect(emptyRequests).toBe(1);

    // One proposing model: one search request, no msearch.
    const leadRequests: Array<Record<string, unknown>> = [];
    const lead = { search: async (request: Record<string, unknown>) => (leadRequests.push(request), { hits: { hits: [{ _id: 'p1' }] } }) } as unknown as Client;
    await searchCatalog(lead, 'products', { vectors, weights: { a: 1, b: 1 }, size: 1, candidates: 'lead', filters: [], mode: 'knn', facets: false });
    expect(leadRequests).toHaveLength(2);
  });

  it('searchCatalogMany: every search\'s requests of one round in one msearch, each hybrid\'s candidates the union of its models\'', async () => {
    const rounds: Array<Array<Record<string, unknown>>> = [];
    const answers = [
      { responses: [{ hits: { hits: [{ _id: 'p1' }] } }, { hits: { hits: [{ _id: 'p2' }] } }, { hits: { hits: [{ _id: 'one', _score: 1 }] } }] },
      { responses: [{ hits: { hits: [{ _id: 'p2', _score: 0.8 }] } }] },
    ];
    const es = { msearch: async (request: { searches: Array<Record<string, unknown>> }) => (rounds.push(request.searches.filter((_, i) => i % 2 === 1)), answers.shift()) } as unknown as Client;
    const [hybrid, single] = await searchCatalogMany(es, 'products', [
      { vectors, weights: { a: 1, b: 1 }, size: 1, filters: [], mode: 'knn', facets: false },
      { vectors: { a: [1, 0] }, weights: { a: 1 }, size: 1, filters: [], mode: 'knn', facets: false },
    ]);
    expect(rounds.map((round) => round.length)).toEqual([3, 1]);
    expect((rounds[1]![0]!.knn as Array<{ filter: unknown }>)[0]!.filter).toEqual([{ ids: { values: ['p1', 'p2'] } }]);
    expect(hybrid!.hits.map((hit) => hit._id)).toEqual(['p2']);
    expect(single!.hits.map((hit) => hit._id)).toEqual(['one']);
  });
});

describe('catalog search never returns partial results', () => {
  const options = { vectors: { a: [1, 0] }, weights: { a: 1 }, size: 1, filters: [], mode: 'knn' as const, facets: false };
  const partial = { _shards: { total: 3, successful: 2, skipped: 0, failed: 1, failures: [{ shard: 1, index: 'products-v1', reason: { type: 'no_shard_available_action_exception' } }] }, hits: { hits: [{ _id: 'p1', _score: 1 }] } };

  it('asks Elasticsearch to refuse rather than answer from some shards (search and msearch)', async () => {
    const requests: Array<Record<string, unknown>> = [];
    const es = {
      search: async (request: Record<string, unknown>) => (requests.push(request), { hits: { hits: [] } }),
      msearch: async (request: { searches: unknown[] }) => (requests.push(...(request.searches.filter((_, i) => i % 2 === 0) as Array<Record<string, unknown>>)), { responses: [{ hits: { hits: [] } }] }),
    } as unknown as Client;
    await searchCatalog(es, 'products', options);
    await searchCatalogMany(es, 'products', [options]);
    expect(requests).toHaveLength(2);
    for (const request of requests) expect(request.allow_partial_search_results).toBe(false);
  });

  it('a response from only some shards is a 503 search_unavailable, not their hits', async () => {
    const es = { search: async () => partial, msearch: async () => ({ responses: [{ ...partial, status: 200 }] }) } as unknown as Client;
    const single = await searchCatalog(es, 'products', options).then(() => null, (error: unknown) => error);
    expect(single).toBeInstanceOf(PartialResultsError);
    expect(searchFailure(single)).toMatchObject({ code: 'search_unavailable', status: 503 });
    const many = await searchCatalogMany(es, 'products', [options]).then(() => null, (error: unknown) => error);
    expect(many).toBeInstanceOf(PartialResultsError);
  });
});
