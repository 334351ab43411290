import { Gate } from '../../../indexer/gate';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
/** Resolves after `hops` microtask turns: lets a test start work at many points between a release and a resumption. */
const hops = async (n: number) => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

describe('Gate', () => {
  it('lets at most `limit` holders run at once, in arrival order', async () => {
    const gate = new Gate(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      [1, 2, 3, 4, 5].map((n) =>
        gate.run(async () => {
          running++;
          peak = Math.max(peak, running);
          order.push(n);
          await tick();
          running--;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(order).toEqual([1, 2, 3, 4, 5]);
  });

  it('never admits more than its limit, even for work arriving between a release and the next holder resuming', async () => {
    for (const limit of [1, 2, 3]) {
      const gate = new Gate(limit);
      let running = 0;
      let peak = 0;
      const all: Array<Promise<void>> = [];
      const hold = (n: number): Promise<void> =>
        gate.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await hops(n % 4);
          running--;
          // Newcomers arrive a few microtask turns after this holder finishes: some land in the window in which a
          // released slot is free but the waiter it woke has not resumed yet.
          if (n < 400) for (let k = 0; k < 3; k++) all.push(hops(k).then(() => hold(n * 3 + k + 1)));
        });
      all.push(hold(0), hold(1), hold(2), hold(3));
      for (let seen = 0; seen < all.length; seen = all.length) await Promise.all(all.slice(seen));
      await Promise.all(all);
      expect(peak).toBeLessThanOrEqual(limit);
    }
  });

  it('serves high priority before low, whatever the arrival order, and keeps a slot free of low work', async () => {
    const gate = new Gate(2, 1);
    const order: string[] = [];
    let lowPeak = 0;
    let low = 0;
    const job = (name: string, priority: 'high' | 'low') =>
      gate.run(async () => {
        if (priority === 'low') lowPeak = Math.max(lowPeak, ++low);
        order.push(name);
        await tick();
        if (priority === 'low') low--;
      }, priority);
    await Promise.all([job('low-1', 'low'), job('low-2', 'low'), job('low-3', 'low'), job('high-1', 'high'), job('high-2', 'high'), job('high-3', 'high')]);
    // low-1 takes the one slot low work may hold; high-1 the other; then high-2 and high-3 go before low-2 and low-3.
    expect(order).toEqual(['low-1', 'high-1', 'high-2', 'high-3', 'low-2', 'low-3']);
    expect(lowPeak).toBe(1);
  });

  it('releases its slot when the work throws', async () => {
    const gate = new Gate(1);
    await expect(gate.run(async () => { throw new Error('x'); })).rejects.toThrow('x');
    expect(await gate.run(async () => 'next')).toBe('next');
    expect(gate.holders).toBe(0);
  });
});
