import { steadyLoad } from '../../../benchmarks/lib/api-process';

describe('steadyLoad', () => {
  it('sends on schedule whatever the earlier answers, and counts waiting from the scheduled start', async () => {
    const sent: number[] = [];
    const started = Date.now();
    // The first answer is slow: an open loop does not wait for it before sending the next ones.
    const results = await steadyLoad(
      5,
      50,
      async (n) => {
        sent.push(Date.now() - started);
        await new Promise((resolve) => setTimeout(resolve, n === 0 ? 300 : 5));
        return n;
      },
      'test',
    );
    expect(results.map((r) => r.answer)).toEqual([0, 1, 2, 3, 4]);
    expect(sent[4]!).toBeLessThan(250);
    expect(results[0]!.ms).toBeGreaterThanOrEqual(295);
    expect(results[4]!.ms).toBeLessThan(150);
  });
});
