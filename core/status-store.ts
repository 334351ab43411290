import type { Redis } from 'ioredis';

/**
 * Per-product processing state in Redis: `queued` when an event is accepted, `indexed` / `deleted` when it was
 * written, `failed` (with the reason) when it could not be. A state never moves back to an older version.
 * Beside it, the last event the indexer ignored because the catalog already held a newer version (`stale`) or a
 * newer delete (`tombstoned`): an ignored event is never silent.
 */
export const PRODUCT_STATES = ['queued', 'indexed', 'failed', 'deleted', 'unknown'] as const;
export type ProductState = (typeof PRODUCT_STATES)[number];

export const IGNORE_REASONS = ['stale', 'tombstoned'] as const;
export type IgnoreReason = (typeof IGNORE_REASONS)[number];

export interface IgnoredEvent {
  eventId: string;
  version: number;
  reason: IgnoreReason;
}

export interface ProductStatus {
  /** null when only an ignored event is on record. */
  state: ProductState | null;
  version: number | null;
  lastError: string | null;
  updatedAt: string | null;
  lastIgnored: IgnoredEvent | null;
}

const TTL_SECONDS = 30 * 86_400;

// KEYS[1] status key; ARGV: state, version, last_error, updated_at, ttl, allow_same_version (1/0)
const SET_IF_NEWER = `
local current = redis.call('HGET', KEYS[1], 'version')
if current then
  local c = tonumber(current)
  local v = tonumber(ARGV[2])
  if c > v or (c == v and ARGV[6] == '0') then return 0 end
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'version', ARGV[2], 'last_error', ARGV[3], 'updated_at', ARGV[4])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return 1`;

export class StatusStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** `productId`: the product's document id (`documentId(catalog, id)`), so records are per catalog. */
  private key(productId: string): string {
    return `${this.prefix}:status:${productId}`;
  }

  /**
   * Records `state` for `version`. `queued` only replaces an older version; a result (`indexed`, `deleted`, `failed`)
   * also replaces the same version's `queued`.
   */
  async set(productId: string, state: Exclude<ProductState, 'unknown'>, version: number, lastError: string | null = null): Promise<void> {
    await this.redis.eval(SET_IF_NEWER, 1, this.key(productId), state, String(version), lastError ?? '', new Date().toISOString(), String(TTL_SECONDS), state === 'queued' ? '0' : '1');
  }

  async setMany(entries: Array<{ productId: string; state: Exclude<ProductState, 'unknown'>; version: number; lastError?: string | null }>): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.redis.pipeline();
    const now = new Date().toISOString();
    for (const e of entries) {
      pipeline.eval(SET_IF_NEWER, 1, this.key(e.productId), e.state, String(e.version), e.lastError ?? '', now, String(TTL_SECONDS), e.state === 'queued' ? '0' : '1');
    }
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }

  /** Records an event the indexer ignored; the state and version stay as they are. */
  async ignored(productId: string, event: IgnoredEvent): Promise<void> {
    const results = await this.redis
      .multi()
      .hset(this.key(productId), 'ignored_event_id', event.eventId, 'ignored_version', String(event.version), 'ignored_reason', event.reason)
      .expire(this.key(productId), TTL_SECONDS)
      .exec();
    const failed = results?.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }

  async get(productId: string): Promise<ProductStatus | null> {
    const fields = await this.redis.hgetall(this.key(productId));
    if (!fields.state && !fields.ignored_event_id) return null;
    return {
      state: (fields.state as ProductState | undefined) ?? null,
      version: fields.version !== undefined ? Number(fields.version) : null,
      lastError: fields.last_error || null,
      updatedAt: fields.updated_at ?? null,
      lastIgnored: fields.ignored_event_id
        ? { eventId: fields.ignored_event_id, version: Number(fields.ignored_version), reason: fields.ignored_reason as IgnoreReason }
        : null,
    };
  }
}
