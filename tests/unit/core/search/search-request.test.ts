import { parseSearchBody } from '../../../../core/search/search-request';

describe('parseSearchBody', () => {
  it('refuses base64 longer than the largest image with 413 image_too_large, as an upload of that size is', () => {
    const tooLong = 'A'.repeat(Math.ceil((1000 * 4) / 3) + 8);
    expect(() => parseSearchBody({ image_base64: tooLong }, 1000)).toThrow(expect.objectContaining({ code: 'image_too_large', status: 413 }));
    expect(parseSearchBody({ image_base64: 'A'.repeat(1000) }, 1000).source.kind).toBe('image');
  });
});

describe('query_id and cursor', () => {
  it('a cursor takes only query_id and k beside it, and may be long (its options can hold steering vectors)', () => {
    expect(parseSearchBody({ query_id: 'q', cursor: 'a'.repeat(100_000), k: 5 }, 1_000_000).source).toEqual({ kind: 'query_id', id: 'q', cursor: 'a'.repeat(100_000) });
    expect(() => parseSearchBody({ query_id: 'q', cursor: 'c', min_score: 0.5 }, 1_000_000)).toThrow(expect.objectContaining({ code: 'invalid_request' }));
    expect(() => parseSearchBody({ cursor: 'c', vector: [1] }, 1_000_000)).toThrow(expect.objectContaining({ code: 'invalid_request' }));
    expect(() => parseSearchBody({ query_id: 'q', box: { left: 0, top: 0, width: 10, height: 10 } }, 1_000_000)).toThrow(expect.objectContaining({ code: 'query_needs_photo' }));
  });
});
