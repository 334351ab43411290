import type { Client } from '@elastic/elasticsearch';

/**
 * One bulk request with per-item results. A 200 with `errors: true` is never success: every failed item comes back
 * with its status and reason so the caller can retry 429s and fail the rest individually.
 */

export type BulkAction =
  | { op: 'index' | 'create'; index: string; id: string; document: Record<string, unknown>; ifSeqNo?: number; ifPrimaryTerm?: number }
  | { op: 'update'; index: string; id: string; partial: Record<string, unknown>; ifSeqNo?: number; ifPrimaryTerm?: number }
  | { op: 'delete'; index: string; id: string; ifSeqNo?: number; ifPrimaryTerm?: number };

export interface BulkItemFailure {
  id: string;
  op: BulkAction['op'];
  status: number;
  type: string;
  reason: string;
}

/** Worth retrying: someone wrote in between (409), Elasticsearch is overloaded (429) or failing (5xx). */
export function isTransientFailure(failure: BulkItemFailure): boolean {
  return failure.status === 409 || failure.status === 429 || failure.status >= 500;
}

export interface BulkResult {
  succeeded: number;
  failures: BulkItemFailure[];
}

function header(action: BulkAction): Record<string, unknown> {
  const meta: Record<string, unknown> = { _index: action.index, _id: action.id };
  if (action.ifSeqNo !== undefined && action.ifPrimaryTerm !== undefined) {
    meta.if_seq_no = action.ifSeqNo;
    meta.if_primary_term = action.ifPrimaryTerm;
  }
  return { [action.op]: meta };
}

export async function bulkWrite(es: Client, actions: BulkAction[], options: { refresh?: boolean | 'wait_for' } = {}): Promise<BulkResult> {
  if (actions.length === 0) return { succeeded: 0, failures: [] };
  const operations: Record<string, unknown>[] = [];
  for (const action of actions) {
    operations.push(header(action));
    if (action.op === 'index' || action.op === 'create') operations.push(action.document);
    else if (action.op === 'update') operations.push({ doc: action.partial });
  }
  const response = await es.bulk({ operations, ...(options.refresh !== undefined ? { refresh: options.refresh } : {}) });
  const failures: BulkItemFailure[] = [];
  response.items.forEach((item, position) => {
    const [op, result] = Object.entries(item)[0] as [BulkAction['op'], { _id?: string | null; status: number; error?: { type: string; reason?: string | null } }];
    if (result.error || result.status >= 300) {
      failures.push({
        id: result._id ?? actions[position]?.id ?? '',
        op,
        status: result.status,
        type: result.error?.type ?? 'unknown',
        reason: result.error?.reason ?? `status ${result.status}`,
      });
    }
  });
  return { succeeded: actions.length - failures.length, failures };
}
