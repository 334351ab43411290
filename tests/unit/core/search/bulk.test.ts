import type { Client } from '@elastic/elasticsearch';
import { bulkWrite } from '../../../../core/search/bulk';

function fakeClient(items: unknown[]): { client: Client; calls: unknown[] } {
  const calls: unknown[] = [];
  const client = { bulk: async (request: unknown) => { calls.push(request); return { errors: true, items, took: 1 }; } } as unknown as Client;
  return { client, calls };
}

describe('bulkWrite', () => {
  it('never counts a 200 with errors:true as success: each failed item comes back with its reason', async () => {
    const { client, calls } = fakeClient([
      { index: { _id: 'a', status: 201 } },
      { update: { _id: 'b', status: 429, error: { type: 'es_rejected_execution_exception', reason: 'queue full' } } },
      { delete: { _id: 'c', status: 404 } },
      { index: { _id: 'd', status: 400, error: { type: 'document_parsing_exception', reason: 'bad dims' } } },
    ]);
    const result = await bulkWrite(client, [
      { op: 'index', index: 'i', id: 'a', document: { x: 1 } },
      { op: 'update', index: 'i', id: 'b', partial: { price: 2 }, ifSeqNo: 3, ifPrimaryTerm: 1 },
      { op: 'delete', index: 'i', id: 'c' },
      { op: 'index', index: 'i', id: 'd', document: {} },
    ]);
    expect(result.succeeded).toBe(1);
    expect(result.failures).toEqual([
      { id: 'b', op: 'update', status: 429, type: 'es_rejected_execution_exception', reason: 'queue full' },
      { id: 'c', op: 'delete', status: 404, type: 'unknown', reason: 'status 404' },
      { id: 'd', op: 'index', status: 400, type: 'document_parsing_exception', reason: 'bad dims' },
    ]);
    expect(calls[0]).toEqual({
      operations: [
        { index: { _index: 'i', _id: 'a' } }, { x: 1 },
        { update: { _index: 'i', _id: 'b', if_seq_no: 3, if_primary_term: 1 } }, { doc: { price: 2 } },
        { delete: { _index: 'i', _id: 'c' } },
        { index: { _index: 'i', _id: 'd' } }, {},
      ],
    });
  });

  it('sends nothing for no actions', async () => {
    const { client, calls } = fakeClient([]);
    expect(await bulkWrite(client, [])).toEqual({ succeeded: 0, failures: [] });
    expect(calls).toHaveLength(0);
  });
});
