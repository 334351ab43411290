import type { Client } from '@elastic/elasticsearch';
import { Counter, Registry } from 'prom-client';
import { CatalogScope, catalogsOf, foreignHit } from '../../../../core/search/catalog-scope';
import type { Logger } from '../../../../core/logger';

const logger = { warn: jest.fn(), info: jest.fn(), debug: jest.fn(), error: jest.fn() } as unknown as Logger;

/** A client whose aggregation answers what `answer` holds at the time (or throws it). */
function fakeEs(answer: { current: unknown }) {
  const search = jest.fn(async () => {
    if (answer.current instanceof Error) throw answer.current;
    return { aggregations: answer.current };
  });
  return { es: { search } as unknown as Client, search };
}
const aggregations = (catalogs: string[]) => ({ catalogs: { buckets: catalogs.map((key) => ({ key, doc_count: 1 })) } });

describe('catalogsOf', () => {
  it('reads the terms, and products without a catalog as the default catalog', async () => {
    expect([...catalogsOf(aggregations(['store-a']))]).toEqual(['store-a']);
    expect([...catalogsOf(aggregations(['default', 'store-a']))].sort()).toEqual(['default', 'store-a']);
    expect(catalogsOf(undefined).size).toBe(0);
    // Products without the field fall in the default catalog's bucket: the aggregation asks for it.
    const { es, search } = fakeEs({ current: aggregations(['default']) });
    await new CatalogScope(es, 'products', 30_000, logger).read();
    expect(search).toHaveBeenCalledWith(expect.objectContaining({ aggs: { catalogs: { terms: { field: 'catalog', missing: 'default', size: 2 } } } }));
  });
});

describe('foreignHit', () => {
  it("finds a hit of another catalog; a hit without a catalog is the default catalog's; a hit without _source by its _id", () => {
    expect(foreignHit([{ _source: { catalog: 'default' } }, { _source: {} }], 'default')).toBe(false);
    expect(foreignHit([{ _source: { catalog: 'default' } }, { _source: { catalog: 'store-b' } }], 'default')).toBe(true);
    expect(foreignHit([{ _source: {} }], 'store-a')).toBe(true);
    // Ids only (documentId: the product id in the default catalog, "<catalog> <id>" in another).
    expect(foreignHit([{ _id: 'x' }, { _id: 'sku-1' }], 'default')).toBe(false);
    expect(foreignHit([{ _id: 'x' }, { _id: 'store-b sku-1' }], 'default')).toBe(true);
    expect(foreignHit([{ _id: 'store-a sku-1' }], 'store-a')).toBe(false);
    expect(foreignHit([{ _id: 'sku-1' }], 'store-a')).toBe(true);
    expect(foreignHit([{}], 'default')).toBe(true);
    expect(foreignHit([], 'store-a')).toBe(false);
  });
});

describe('CatalogScope', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => (now = 1_000));

  it('keeps the filter until the catalogs are read, then leaves it out for the only catalog, and never waits', async () => {
    const answer = { current: aggregations(['default']) as unknown };
    const { es, search } = fakeEs(answer);
    const scope = new CatalogScope(es, 'products', 30_000, logger, undefined, clock);
    expect(scope.soleCatalog('default')).toBe(false); // not read yet: the reading starts in the background
    expect(search).toHaveBeenCalledTimes(1);
    await scope.read();
    expect(scope.soleCatalog('default')).toBe(true);
    expect(scope.soleCatalog('store-a')).toBe(false);
    expect(search).toHaveBeenCalledTimes(1);
  });

  it('reads again once the reading is older than the TTL, answering as it stands meanwhile', async () => {
    const answer = { current: aggregations(['default']) as unknown };
    const { es, search } = fakeEs(answer);
    const scope = new CatalogScope(es, 'products', 30_000, logger, undefined, clock);
    await scope.read();
    answer.current = aggregations(['default', 'store-b']);
    now += 30_001;
    expect(scope.soleCatalog('default')).toBe(true); // stale, and the new reading is under way
    expect(search).toHaveBeenCalledTimes(2);
    await scope.read();
    expect(scope.soleCatalog('default')).toBe(false);
  });

  it('forgets what it read when a search finds another catalog, and does not take a reading that started before', async () => {
    const answer = { current: aggregations(['default']) as unknown };
    const { es } = fakeEs(answer);
    const scope = new CatalogScope(es, 'products', 30_000, logger, undefined, clock);
    // A reading starts, a search finds store-b's product before it answers (with the old view): it is not taken.
    expect(scope.soleCatalog('default')).toBe(false);
    scope.foreignFound();
    answer.current = aggregations(['default', 'store-b']);
    await scope.read();
    expect(scope.soleCatalog('default')).toBe(false);
    expect(scope.soleCatalog('store-b')).toBe(false);
  });

  it('keeps the filter when the catalogs cannot be read (and says so), and always with a TTL of 0', async () => {
    const answer = { current: new Error('no shards') as unknown };
    const { es } = fakeEs(answer);
    const scope = new CatalogScope(es, 'products', 30_000, logger, undefined, clock);
    await scope.read();
    expect(scope.soleCatalog('default')).toBe(false);
    expect(logger.warn).toHaveBeenCalled();
    const never = fakeEs({ current: aggregations(['default']) });
    const off = new CatalogScope(never.es, 'products', 0, logger, undefined, clock);
    await off.read();
    expect(off.soleCatalog('default')).toBe(false);
  });

  it('counts searches by how their catalog was kept', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'scope_test_total', help: 'test', labelNames: ['way'], registers: [registry] });
    const { es } = fakeEs({ current: aggregations(['default']) });
    const scope = new CatalogScope(es, 'products', 30_000, logger, counter, clock);
    scope.soleCatalog('default');
    await scope.read();
    scope.soleCatalog('default');
    scope.foreignFound();
    const values = Object.fromEntries((await counter.get()).values.map((v) => [v.labels.way, v.value]));
    expect(values).toEqual({ filtered: 1, unfiltered: 1, rerun: 1 });
  });
});
