import { MicroBatcher } from '../../../indexer/batcher';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('MicroBatcher', () => {
  it('runs a batch when full, and a partial one after the wait', async () => {
    const batches: number[][] = [];
    const batcher = new MicroBatcher<number, number>(async (items) => {
      batches.push(items);
      return items.map((n) => ({ ok: true as const, value: n * 2 }));
    }, 3, 30);
    const results = await Promise.all([1, 2, 3, 4].map((n) => batcher.submit(n)));
    expect(results).toEqual([2, 4, 6, 8]);
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });

  it('settles each item on its own: one failure does not fail the others', async () => {
    const batcher = new MicroBatcher<number, number>(async (items) => items.map((n) => (n === 2 ? { ok: false as const, error: new Error('bad 2') } : { ok: true as const, value: n })), 10, 1);
    const results = await Promise.allSettled([1, 2, 3].map((n) => batcher.submit(n)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('bad 2');
  });

  it('rejects every item of a batch whose run throws, and drain waits for batches in flight', async () => {
    let finished = 0;
    const batcher = new MicroBatcher<number, number>(async (items) => {
      await tick();
      finished += items.length;
      if (items.includes(9)) throw new Error('bulk failed');
      return items.map((n) => ({ ok: true as const, value: n }));
    }, 2, 1000);
    const failing = Promise.allSettled([batcher.submit(8), batcher.submit(9)]);
    const pending = batcher.submit(1);
    await batcher.drain();
    expect(finished).toBe(3);
    expect((await failing).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await pending).toBe(1);
  });
});
