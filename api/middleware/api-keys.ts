import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../../core/errors';

/**
 * API keys with scopes (`search`, `webhook`, `admin`; admin implies the others), from API_KEYS
 * (`<key>:<scope>[+<scope>…]`, comma-separated). Keys are compared by their SHA-256 digest, so a lookup's timing
 * says nothing about how much of a key was right. With no API_KEYS, search and status are public and webhooks rely
 * on their signatures alone.
 */
export type Scope = 'search' | 'webhook' | 'admin';

export function parseApiKeys(entries: string[]): Map<string, Set<Scope>> {
  const keys = new Map<string, Set<Scope>>();
  for (const entry of entries) {
    const at = entry.lastIndexOf(':');
    const key = entry.slice(0, at);
    const scopes = entry.slice(at + 1).split('+') as Scope[];
    keys.set(createHash('sha256').update(key).digest('hex'), new Set(scopes));
  }
  return keys;
}

/** The key the request carries (`Authorization: Bearer <key>` or `X-API-Key`), if any. */
export function presentedKey(request: Request): string | undefined {
  const header = request.header('authorization');
  if (header?.toLowerCase().startsWith('bearer ')) return header.slice(7).trim();
  return request.header('x-api-key') ?? undefined;
}

export function requireScope(keys: Map<string, Set<Scope>>, scope: Scope) {
  return (request: Request, response: Response, next: NextFunction): void => {
    if (keys.size === 0) return next();
    const key = presentedKey(request);
    if (!key) return next(new AppError('api_key_missing', 'an API key is required (Authorization: Bearer <key> or X-API-Key)', 401));
    const scopes = keys.get(createHash('sha256').update(key).digest('hex'));
    if (!scopes) return next(new AppError('api_key_invalid', 'the API key is not valid', 401));
    if (!scopes.has(scope) && !scopes.has('admin')) return next(new AppError('api_key_scope', `the API key lacks the "${scope}" scope`, 403));
    response.locals.client = `key:${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
    next();
  };
}
