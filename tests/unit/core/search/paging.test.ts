import { MAX_PAGE_DEPTH, byRank, decodeCursor, encodeCursor, pageAfter, pageDepth } from '../../../../core/search/paging';

describe('paging', () => {
  const hits = [
    { id: 'c', score: 0.9 },
    { id: 'a', score: 0.8 },
    { id: 'b', score: 0.8 },
    { id: 'd', score: 0.7 },
  ];

  it('ranks by score, ties by id, and pages after the last result shown', () => {
    expect([...hits].reverse().sort(byRank).map((h) => h.id)).toEqual(['c', 'a', 'b', 'd']);
    expect(pageAfter(hits, null, 2).map((h) => h.id)).toEqual(['c', 'a']);
    expect(pageAfter(hits, { id: 'a', score: 0.8 }, 2).map((h) => h.id)).toEqual(['b', 'd']);
    expect(pageAfter(hits, { id: 'd', score: 0.7 }, 2)).toEqual([]);
  });

  it('never repeats a result shown, even when a deeper search finds one ranked above the boundary', () => {
    // Page 1 (a shallower search) showed c and a; the deeper search also finds e, better than both.
    const deeper = [...hits, { id: 'e', score: 0.95 }];
    expect(pageAfter(deeper, { id: 'a', score: 0.8 }, 3).map((h) => h.id)).toEqual(['b', 'd']);
  });

  it('tiers rank before scores: pinned (0) first, buried (2) last', () => {
    const tiered = [{ id: 'p', score: -1, tier: 0 }, { id: 'q', score: 0, tier: 0 }, { id: 'x', score: 0.99, tier: 2 }, ...hits];
    expect(pageAfter(tiered, null, 7).map((h) => h.id)).toEqual(['q', 'p', 'c', 'a', 'b', 'd', 'x']);
    expect(pageAfter(tiered, { id: 'p', score: -1, tier: 0 }, 2).map((h) => h.id)).toEqual(['c', 'a']);
    expect(pageAfter(tiered, { id: 'd', score: 0.7 }, 2).map((h) => h.id)).toEqual(['x']);
  });

  it('a cursor round-trips; anything else is invalid_cursor', () => {
    const cursor = { v: 1 as const, shown: 10, score: 0.8123, id: 'sku 1', options: { filters: { brand: ['acme'] } } };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    for (const bad of ['not base64 json', Buffer.from('{"v":2}').toString('base64url'), Buffer.from(JSON.stringify({ ...cursor, shown: MAX_PAGE_DEPTH + 1 })).toString('base64url')]) {
      expect(() => decodeCursor(bad)).toThrow(expect.objectContaining({ code: 'invalid_cursor', status: 400 }));
    }
  });

  it('a page search reaches the page end, never past the deepest page', () => {
    expect(pageDepth(0, 10)).toBe(10);
    expect(pageDepth(990, 100)).toBe(MAX_PAGE_DEPTH);
  });
});
