import http from 'node:http';
import { freePort, startApi, steadyLoad } from '../../../benchmarks/lib/api-process';

describe('startApi', () => {
  it("refuses a port where something already answers (another person's API), without starting its own", async () => {
    const port = await freePort();
    const other = http.createServer((_request, response) => response.end('{"status":"ready"}'));
    await new Promise<void>((resolve) => other.listen(port, '127.0.0.1', resolve));
    try {
      const started = startApi({ ...process.env, API_PORT: String(port) });
      await expect(started).rejects.toThrow(`something already answers on http://127.0.0.1:${port}`);
      // Had it started one, stop it (the test has failed already).
      await started.then((api) => api.stop(), () => undefined);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});

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

  it('returns a failed request with its error and goes on; a connection reset as it was reused is sent once more', async () => {
    const tries = new Map<number, number>();
    const results = await steadyLoad(
      3,
      100,
      async (n) => {
        tries.set(n, (tries.get(n) ?? 0) + 1);
        if (n === 0) throw new Error('answered 500');
        if (n === 1 && tries.get(1) === 1) throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
        return n;
      },
      'test',
    );
    expect(results[0]).toEqual({ ms: NaN, error: 'answered 500' });
    expect(results[1]).toMatchObject({ answer: 1 });
    expect(results[2]).toMatchObject({ answer: 2 });
    expect(tries.get(0)).toBe(1);
    expect(tries.get(1)).toBe(2);
  });

  it('rate 0: back to back, each request once the one before has answered', async () => {
    let running = 0;
    let most = 0;
    const results = await steadyLoad(
      4,
      0,
      async (n) => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 20));
        running--;
        return n;
      },
      'test',
    );
    expect(most).toBe(1);
    expect(results.map((r) => r.answer)).toEqual([0, 1, 2, 3]);
    for (const result of results) expect(result.ms).toBeLessThan(100);
  });
});
