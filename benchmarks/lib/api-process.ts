import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createProgress } from '../../core/progress';
import { request } from './bench-index';
import { statusBytesOf } from './load-proc';
import { spawnService } from '../../scripts/service-command';

/**
 * The real API process for benchmarks (dist/api/main.js, as `npm run api` starts it), the load sent to it, and its
 * memory as the operating system sees it.
 */

export interface ApiProcess {
  url: string;
  child: ChildProcess;
  /** SIGTERM, and wait for the exit. */
  stop(): Promise<void>;
}

/** A TCP port on 127.0.0.1 that nothing listens on now (the system's choice), for a process of the benchmark's own. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts the API with `env` (its port from API_PORT) and Node `flags` (default: `npm run api`'s), and waits until /readyz answers. Refuses a
 * port where something already answers: on a machine others use, that is someone else's API, and measuring it
 * instead of this one gives their catalog's answers.
 */
export async function startApi(env: NodeJS.ProcessEnv, flags?: string[]): Promise<ApiProcess> {
  const url = `http://127.0.0.1:${env.API_PORT}`;
  if (await request(`${url}/readyz`, 'GET', {}, '').then(() => true, () => false)) throw new Error(`something already answers on ${url}: choose another API_PORT`);
  const child = spawnService('api', env, ['ignore', 'ignore', 'inherit'], flags);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A benchmark that dies takes its API with it.
  const orphan = () => child.kill('SIGTERM');
  process.once('exit', orphan);
  void exited.then(() => process.off('exit', orphan));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  for (let i = 0; ; i++) {
    // Whether this child is still there first: one that could not listen leaves the port to whoever took it.
    if (child.exitCode !== null || i > 240) {
      await stop();
      throw new Error('the API did not become ready');
    }
    if (await request(`${url}/readyz`, 'GET', {}, '').then(() => true, () => false)) break;
    await sleep(500);
  }
  return { url, child, stop };
}

/** A multipart/form-data body: the image as the `image` file part, options as the `query` text part. */
export function multipart(image: Buffer, query?: unknown): { headers: Record<string, string>; body: Buffer } {
  const boundary = '----lookalike-benchmark';
  const parts = [Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="image"; filename="query.jpg"\r\ncontent-type: image/jpeg\r\n\r\n`), image, Buffer.from('\r\n')];
  if (query !== undefined) parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="query"\r\n\r\n${JSON.stringify(query)}\r\n`));
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: Buffer.concat(parts) };
}

/** A process's resident memory, sampled: the largest sample and the kernel's high-water mark (VmHWM), in bytes. */
export function sampleRss(pid: number, everyMs = 250): { stop(): { max: number; peak: number; last: number } } {
  const read = (key: 'VmRSS' | 'VmHWM'): number => statusBytesOf(pid, key) ?? NaN;
  let max = 0;
  let last = NaN;
  const timer = setInterval(() => {
    last = read('VmRSS');
    if (last > max) max = last;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return { max, peak: read('VmHWM'), last };
    },
  };
}

/**
 * Sends `count` requests at a steady `perSecond`, each at its scheduled time whether or not the earlier ones have
 * answered (an open loop: a slow answer does not slow the load down, as real clients do not wait for each other), and
 * returns each one's answer and wall time from its scheduled start, so that waiting behind a busy server counts.
 * `perSecond` 0: back to back, each request once the one before has answered. A request that fails is returned with
 * its error (and no time) rather than ending the load.
 */
export async function steadyLoad<T>(count: number, perSecond: number, send: (n: number, agent: http.Agent) => Promise<T>, label: string): Promise<Array<{ ms: number; answer?: T; error?: string }>> {
  // Idle connections are closed before the server's keep-alive timeout (5 s), so that none is reused as it closes.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, timeout: 4_000 });
  const bar = createProgress(label);
  const started = performance.now();
  let done = 0;
  const attempt = async (n: number, retried = false): Promise<T> => {
    try {
      return await send(n, agent);
    } catch (error) {
      // A connection the server closed just as it was reused: the request never reached the API; sent once more.
      if (!retried && ['ECONNRESET', 'EPIPE'].includes((error as NodeJS.ErrnoException).code ?? '')) return attempt(n, true);
      throw error;
    }
  };
  const pending: Array<Promise<{ ms: number; answer?: T; error?: string }>> = [];
  for (let n = 0; n < count; n++) {
    const due = perSecond > 0 ? started + (n * 1000) / perSecond : performance.now();
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const result = attempt(n)
      .then(
        (answer) => ({ ms: performance.now() - due, answer }),
        (error: unknown) => ({ ms: NaN, error: (error as Error).message }),
      )
      .finally(() => bar.update(++done, count));
    pending.push(result);
    if (perSecond === 0) await result;
  }
  const results = await Promise.all(pending);
  bar.done();
  agent.destroy();
  return results;
}
