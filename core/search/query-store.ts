import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { cropBoxSchema } from '../image/autocrop';

/**
 * What a search keeps so that it can be re-run by `query_id` (other filters, the next page, steering): its catalog
 * and its embeddings, in Redis for QUERY_TTL_S. Never the photo: a query's vectors are kept as 32-bit floats beside a
 * small JSON record, about 6 KB with the built-in models. A product query keeps the product's id only, and reads its
 * vectors again at each re-run, so a deleted product leaves nothing here.
 *
 * Layout: one hash `<prefix>:query:<query_id>` with a field `meta` (the record, JSON), one field `v:<model>` per
 * model (the vector's Float32 bytes, little-endian) and one `r:<model>` per region descriptor (its bytes, 6.3 kB),
 * expiring as one key.
 */
export const queryRecordSchema = z.object({
  catalog: z.string(),
  /** The product a product query was about (its vectors are read again, and it stays out of its own results). */
  productId: z.string().optional(),
  /** The region of the photo the query's vectors are of (the response's `query.crop`). */
  crop: cropBoxSchema.nullable(),
});

export type QueryRecord = z.infer<typeof queryRecordSchema>;

export interface StoredQuery extends QueryRecord {
  /** Unit vectors per model (empty for a product query). */
  vectors: Record<string, number[]>;
  /** The photo's region descriptors per model (core/rerank/regions.ts `encodeRegions`), kept for `rerank`. */
  regions?: Record<string, string>;
}

export const QUERY_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class QueryStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** QUERY_TTL_S. */
    readonly ttlSeconds: number,
  ) {}

  private key(queryId: string): string {
    return `${this.prefix}:query:${queryId}`;
  }

  /** Keeps a query for ttlSeconds; returns its id (a random UUID: knowing one query's id says nothing of another's). */
  async save(query: StoredQuery): Promise<string> {
    const queryId = randomUUID();
    const { vectors, regions, ...record } = query;
    const fields: Array<string | Buffer> = ['meta', JSON.stringify(record)];
    for (const [model, vector] of Object.entries(vectors)) fields.push(`v:${model}`, Buffer.from(Float32Array.from(vector).buffer));
    for (const [model, encoded] of Object.entries(regions ?? {})) fields.push(`r:${model}`, Buffer.from(encoded, 'base64'));
    const key = this.key(queryId);
    const results = await this.redis.multi().hset(key, ...fields).expire(key, this.ttlSeconds).exec();
    const failed = results?.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
    return queryId;
  }

  /** The query, or null when it expired or never existed (an id of the wrong shape included). */
  async load(queryId: string): Promise<StoredQuery | null> {
    if (!QUERY_ID.test(queryId)) return null;
    const fields = await this.redis.hgetallBuffer(this.key(queryId));
    const meta = fields.meta;
    if (!meta) return null;
    const record = queryRecordSchema.parse(JSON.parse(meta.toString('utf8')));
    const vectors: Record<string, number[]> = {};
    const regions: Record<string, string> = {};
    for (const [field, value] of Object.entries(fields)) {
      if (field.startsWith('r:')) regions[field.slice(2)] = value.toString('base64');
      if (!field.startsWith('v:')) continue;
      const floats = new Float32Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
      vectors[field.slice(2)] = Array.from(floats);
    }
    return { ...record, vectors, ...(Object.keys(regions).length > 0 ? { regions } : {}) };
  }

  /** Forgets a query at once (tests; a client never needs to: queries expire). */
  async delete(queryId: string): Promise<void> {
    await this.redis.del(this.key(queryId));
  }
}
