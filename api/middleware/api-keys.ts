import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { DEFAULT_CATALOG } from '../../core/catalog';
import { AppError } from '../../core/errors';

/**
 * API keys with scopes (`search`, `webhook`, `admin`; admin implies the others) and, optionally, the catalogs they
 * are bound to, from API_KEYS (`<key>:<scope>[+<scope>…][@<catalog>[|<catalog>…]]`, comma-separated). Keys are
 * compared by their SHA-256 digest, so a lookup's timing says nothing about how much of a key was right. With no
 * API_KEYS, search and status are public and webhooks rely on their signatures alone.
 *
 * A key bound to catalogs never reaches a product of another catalog: requireScope puts its catalogs in
 * `response.locals.catalogs` (null: every catalog), and every route resolves the catalog a request names against
 * them (`resolveCatalog`, `assertCatalogs`) before anything reaches Elasticsearch or the queue.
 */
export type Scope = 'search' | 'webhook' | 'admin';

export interface KeyAccess {
  scopes: Set<Scope>;
  /** The catalogs the key may use, in the order given; null: every catalog. */
  catalogs: string[] | null;
}

export function parseApiKeys(entries: string[]): Map<string, KeyAccess> {
  const keys = new Map<string, KeyAccess>();
  for (const entry of entries) {
    // Neither scopes nor catalog names contain ':', so the last one ends the key (which may contain one).
    const at = entry.lastIndexOf(':');
    const key = entry.slice(0, at);
    const [scopes, catalogs] = entry.slice(at + 1).split('@') as [string, string | undefined];
    keys.set(digest(key), { scopes: new Set(scopes.split('+') as Scope[]), catalogs: catalogs ? catalogs.split('|') : null });
  }
  return keys;
}

const digest = (key: string): string => createHash('sha256').update(key).digest('hex');

/** The key the request carries (`Authorization: Bearer <key>` or `X-API-Key`), if any. */
export function presentedKey(request: Request): string | undefined {
  const header = request.header('authorization');
  if (header?.toLowerCase().startsWith('bearer ')) return header.slice(7).trim();
  return request.header('x-api-key') ?? undefined;
}

export function requireScope(keys: Map<string, KeyAccess>, scope: Scope) {
  return (request: Request, response: Response, next: NextFunction): void => {
    if (keys.size === 0) return next();
    const key = presentedKey(request);
    if (!key) return next(new AppError('api_key_missing', 'an API key is required (Authorization: Bearer <key> or X-API-Key)', 401));
    const access = keys.get(digest(key));
    if (!access) return next(new AppError('api_key_invalid', 'the API key is not valid', 401));
    if (!access.scopes.has(scope) && !access.scopes.has('admin')) return next(new AppError('api_key_scope', `the API key lacks the "${scope}" scope`, 403));
    response.locals.client = `key:${digest(key).slice(0, 12)}`;
    response.locals.catalogs = access.catalogs;
    next();
  };
}

/** The catalogs the request's key may use (null: every catalog, also when no keys are configured). */
export const allowedCatalogs = (response: Response): string[] | null => (response.locals.catalogs as string[] | null | undefined) ?? null;

/**
 * The catalog a request works in: the one it names, else the key's first catalog, else `default`. A catalog the
 * key is not bound to is a 403 `catalog_forbidden`.
 */
export function resolveCatalog(requested: string | undefined, allowed: string[] | null): string {
  const catalog = requested ?? allowed?.[0] ?? DEFAULT_CATALOG;
  assertCatalogs([catalog], allowed);
  return catalog;
}

/** Refuses (403 `catalog_forbidden`) when any of `catalogs` is outside what the key may use. */
export function assertCatalogs(catalogs: Iterable<string>, allowed: string[] | null): void {
  if (allowed === null) return;
  const outside = [...new Set(catalogs)].filter((catalog) => !allowed.includes(catalog));
  if (outside.length > 0) throw new AppError('catalog_forbidden', `the API key may not use catalog ${outside.map((c) => `"${c}"`).join(', ')}`, 403);
}
