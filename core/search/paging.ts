import { z } from 'zod';
import { ValidationError } from '../errors';

/**
 * Paging a query (`query_id` + `cursor`): each page runs the query again as one search deep enough for every result
 * up to the page's end (size = results shown before + k, so kNN's k and num_candidates grow with the depth), ranks
 * the hits in one total order (score, best first; ties by product id), and returns the k ranked after the last
 * result shown. The cursor holds that boundary (its score and id), how many were shown, and the options of the
 * search, so the next page is the same search. Ranking after a boundary (not skipping a count) means a page never
 * repeats a result shown before, even where a deeper search finds a product an earlier page's shallower one missed.
 */

/** How deep paging goes: no page reaches past this many results. */
export const MAX_PAGE_DEPTH = 1_000;

export interface Ranked {
  id: string;
  /** The score results are ranked by (unrounded). */
  score: number;
  /** Ranked before any score: 0 pinned, 1 (the default) the rest, 2 buried (core/search/ranking.ts). */
  tier?: number;
}

/** Tier, then best score first; equal scores by product id, so two searches rank the same hits in the same order. */
export function byRank(a: Ranked, b: Ranked): number {
  return (a.tier ?? 1) - (b.tier ?? 1) || b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

const cursorSchema = z
  .object({
    v: z.literal(1),
    /** Results shown before this page. */
    shown: z.number().int().min(1).max(MAX_PAGE_DEPTH),
    /** The last result shown: the page starts after it. */
    score: z.number(),
    tier: z.number().int().min(0).max(2).optional(),
    id: z.string().min(1).max(512),
    /** The options of the search being paged (the page's own `k` aside). */
    options: z.record(z.string(), z.unknown()),
  })
  .strict();

export type Cursor = z.infer<typeof cursorSchema>;

/** An opaque cursor (base64url JSON): clients pass it back as they got it. */
export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

export function decodeCursor(text: string): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const cursor = cursorSchema.safeParse(parsed);
  if (!cursor.success) throw new ValidationError('cursor is not a cursor this API gave (pass next_cursor back as it came)', { code: 'invalid_cursor' });
  return cursor.data;
}

/** The hits ranked after `after` (all of them without a boundary), in rank order, at most `k`. */
export function pageAfter<T extends Ranked>(hits: T[], after: Ranked | null, k: number): T[] {
  const ranked = [...hits].sort(byRank);
  const start = after ? ranked.filter((hit) => byRank(hit, after) > 0) : ranked;
  return start.slice(0, k);
}

/** How many hits a page's search asks for: every result up to the page's end (never past MAX_PAGE_DEPTH). */
export const pageDepth = (shown: number, k: number): number => Math.min(MAX_PAGE_DEPTH, shown + k);
