import type { Client } from '@elastic/elasticsearch';
import type { Logger } from '../../../../core/logger';
import { catalogFilter } from '../../../../core/search/filters';
import { FilterShare } from '../../../../core/search/filter-share';

const logger = { warn: jest.fn(), info: jest.fn(), debug: jest.fn(), error: jest.fn() } as unknown as Logger;

/** A client that counts `total` products in the catalog and `passing` of them with any further filter (or throws). */
function fakeEs(counts: { total: number; passing: number; fail?: boolean }) {
  const pending: Array<() => void> = [];
  const count = jest.fn(async ({ query }: { query: { bool: { filter: unknown[] } } }) => {
    await new Promise<void>((resolve) => pending.push(resolve));
    if (counts.fail) throw new Error('connection refused');
    return { count: query.bool.filter.length > 1 ? counts.passing : counts.total };
  });
  return { es: { count } as unknown as Client, count, answer: () => pending.splice(0).forEach((resolve) => resolve()) };
}
const settle = () => new Promise((resolve) => setImmediate(resolve));
const available = [{ term: { available: true } }];

describe('FilterShare', () => {
  it('a search never waits: unknown until counted in the background, then the share of the catalog', async () => {
    const { es, count, answer } = fakeEs({ total: 1000, passing: 800 });
    const shares = new FilterShare(es, 'products', { ttlMs: 60_000 }, logger);
    expect(shares.share('default', available)).toBeUndefined();
    expect(shares.share('default', available)).toBeUndefined();
    // One count of the catalog with the filters and one without, however many searches asked meanwhile.
    expect(count).toHaveBeenCalledTimes(2);
    expect(count).toHaveBeenCalledWith({ index: 'products', query: { bool: { filter: [catalogFilter('default'), ...available] } } });
    expect(count).toHaveBeenCalledWith({ index: 'products', query: { bool: { filter: [catalogFilter('default')] } } });
    answer();
    await settle();
    expect(shares.share('default', available)).toBe(0.8);
    // Per catalog and per filter.
    expect(shares.share('store-a', available)).toBeUndefined();
    expect(shares.share('default', [{ term: { available: false } }])).toBeUndefined();
  });

  it('no filters: the whole catalog, nothing counted', () => {
    const { es, count } = fakeEs({ total: 10, passing: 1 });
    expect(new FilterShare(es, 'products', { ttlMs: 60_000 }, logger).share('default', [])).toBe(1);
    expect(count).not.toHaveBeenCalled();
  });

  it('at most maxCounting counts in flight: ever new filters cost no more', async () => {
    const { es, count, answer } = fakeEs({ total: 100, passing: 5 });
    const shares = new FilterShare(es, 'products', { ttlMs: 60_000, maxCounting: 1 }, logger);
    for (let lte = 1; lte <= 5; lte++) expect(shares.share('default', [{ range: { price: { lte } } }])).toBeUndefined();
    expect(count).toHaveBeenCalledTimes(2);
    answer();
    await settle();
    expect(shares.share('default', [{ range: { price: { lte: 1 } } }])).toBe(0.05);
    expect(shares.share('default', [{ range: { price: { lte: 2 } } }])).toBeUndefined();
    // The next filter's count alone: the catalog's size, counted a moment ago, is not counted again.
    expect(count).toHaveBeenCalledTimes(3);
    answer();
    await settle();
    expect(shares.share('default', [{ range: { price: { lte: 2 } } }])).toBe(0.05);
  });

  it('a failed count leaves the share unknown (every model is asked) and is logged; the next search counts again', async () => {
    const counts = { total: 100, passing: 50, fail: true };
    const { es, count, answer } = fakeEs(counts);
    const warn = jest.fn();
    const shares = new FilterShare(es, 'products', { ttlMs: 60_000 }, { ...logger, warn } as unknown as Logger);
    expect(shares.share('default', available)).toBeUndefined();
    answer();
    await settle();
    expect(warn).toHaveBeenCalled();
    expect(shares.share('default', available)).toBeUndefined();
    counts.fail = false;
    answer();
    await settle();
    expect(count).toHaveBeenCalledTimes(4);
    expect(shares.share('default', available)).toBe(0.5);
  });

  it('an empty catalog passes everything (nothing to lose)', async () => {
    const { es, answer } = fakeEs({ total: 0, passing: 0 });
    const shares = new FilterShare(es, 'products', { ttlMs: 60_000 }, logger);
    expect(shares.share('default', available)).toBeUndefined();
    answer();
    await settle();
    expect(shares.share('default', available)).toBe(1);
  });

  it('a share is kept ttlMs, then counted again', async () => {
    // Not 0: lru-cache takes an entry stored at time 0 for one without a TTL (no real clock reads 0).
    let now = 1_000;
    const counts = { total: 100, passing: 50 };
    const { es, count, answer } = fakeEs(counts);
    const shares = new FilterShare(es, 'products', { ttlMs: 60_000 }, logger, () => now);
    shares.share('default', available);
    answer();
    await settle();
    now = 61_000;
    expect(shares.share('default', available)).toBe(0.5);
    now = 61_001;
    counts.passing = 10;
    expect(shares.share('default', available)).toBeUndefined();
    answer();
    await settle();
    expect(shares.share('default', available)).toBe(0.1);
    expect(count).toHaveBeenCalledTimes(4);
  });
});
