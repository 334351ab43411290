import type { Client } from '@elastic/elasticsearch';
import { CatalogStore } from '../../../../core/search/catalog-store';

/** A fake Elasticsearch holding `tombstones` (ids, sorted) whose deletes of `refused` ids always fail. */
function fakeEs(tombstones: string[], refused: Set<string>) {
  const calls = { search: 0 };
  const es = {
    async search(request: { size: number; search_after?: string[] }) {
      calls.search++;
      if (calls.search > 100) throw new Error('the sweep does not end');
      const after = request.search_after?.[0];
      const page = tombstones.filter((id) => after === undefined || id > after).slice(0, request.size);
      return { hits: { hits: page.map((id) => ({ _index: 'products-v1', _id: id, _seq_no: 1, _primary_term: 1, sort: [id] })) } };
    },
    async bulk(request: { operations: Array<{ delete: { _id: string } }> }) {
      const items = request.operations.map((op) => {
        const id = op.delete._id;
        if (refused.has(id)) return { delete: { _id: id, status: 403, error: { type: 'cluster_block_exception', reason: 'index read-only' } } };
        tombstones = tombstones.filter((t) => t !== id);
        return { delete: { _id: id, status: 200 } };
      });
      return { errors: items.some((i) => i.delete.status >= 300), items };
    },
  };
  return { es: es as unknown as Client, calls };
}

describe('CatalogStore.sweepTombstones', () => {
  it('removes expired tombstones a page at a time', async () => {
    const { es } = fakeEs(['a', 'b', 'c', 'd', 'e'], new Set());
    expect(await new CatalogStore(es, 'products', 'false').sweepTombstones(60, 2)).toEqual({ removed: 5, failed: 0 });
  });

  it('counts the tombstones Elasticsearch refuses to delete, names the first, and ends instead of fetching them again', async () => {
    const { es, calls } = fakeEs(['a', 'b', 'c', 'd', 'e'], new Set(['a', 'b', 'd']));
    const result = await new CatalogStore(es, 'products', 'false').sweepTombstones(60, 2);
    expect(result).toEqual({ removed: 2, failed: 3, firstFailure: 'a: 403 cluster_block_exception: index read-only' });
    expect(calls.search).toBeLessThanOrEqual(4);
  });
});
