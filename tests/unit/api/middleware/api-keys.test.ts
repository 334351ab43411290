import { assertCatalogs, parseApiKeys, resolveCatalog } from '../../../../api/middleware/api-keys';
import { loadConfig } from '../../../../core/config';
import { createHash } from 'node:crypto';

const digest = (key: string) => createHash('sha256').update(key).digest('hex');

describe('API keys bound to catalogs', () => {
  it('parses scopes and an optional list of catalogs; a key may itself contain ":" and "@"', () => {
    const keys = parseApiKeys(['k1-0123456789abcdef:search+webhook@store-a', 'k:2@0123456789abcdef:search@store-a|store-b', 'k3-0123456789abcdef:admin']);
    expect(keys.get(digest('k1-0123456789abcdef'))).toEqual({ scopes: new Set(['search', 'webhook']), catalogs: ['store-a'] });
    expect(keys.get(digest('k:2@0123456789abcdef'))).toEqual({ scopes: new Set(['search']), catalogs: ['store-a', 'store-b'] });
    expect(keys.get(digest('k3-0123456789abcdef'))).toEqual({ scopes: new Set(['admin']), catalogs: null });
  });

  it('API_KEYS accepts catalogs after the scopes and refuses malformed ones', () => {
    expect(loadConfig({ API_KEYS: 'k1-0123456789abcdef:search+webhook@store-a|store_b-2,k2-0123456789abcdef:admin' }).api.keys).toHaveLength(2);
    for (const bad of ['k1-0123456789abcdef:search@', 'k1-0123456789abcdef:search@Store', 'k1-0123456789abcdef:search@a||b', 'k1-0123456789abcdef:search@a b']) {
      expect(() => loadConfig({ API_KEYS: bad })).toThrow(/API_KEYS/);
    }
  });

  it('resolves a request’s catalog: named, else the key’s first, else default; another is catalog_forbidden', () => {
    expect(resolveCatalog(undefined, null)).toBe('default');
    expect(resolveCatalog('store-b', null)).toBe('store-b');
    expect(resolveCatalog(undefined, ['store-a', 'store-b'])).toBe('store-a');
    expect(resolveCatalog('store-b', ['store-a', 'store-b'])).toBe('store-b');
    expect(() => resolveCatalog('store-c', ['store-a'])).toThrow(expect.objectContaining({ code: 'catalog_forbidden', status: 403 }));
    expect(() => resolveCatalog('default', ['store-a'])).toThrow(expect.objectContaining({ code: 'catalog_forbidden' }));
    expect(() => assertCatalogs(['store-a', 'store-b'], ['store-a'])).toThrow(/"store-b"/);
    expect(() => assertCatalogs(['store-a', 'store-a'], ['store-a'])).not.toThrow();
  });
});
