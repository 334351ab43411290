import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import type { Config } from '../../core/config';
import type { Deps } from '../../core/deps';
import { resolveManifests, vectorFieldSpecs } from '../../core/embedding/manifest';
import { connectRedis } from '../../core/redis';
import { failureWindow, recordMeasurement, steadyStream } from './failover-helpers';
import { indexProducts, randomProduct, randomUnitVector, seededRandom, testConfig, testDeps } from './helpers';

/**
 * Two API processes (the built dist/api/main.js) behind HAProxy (Debian's haproxy, installed by scripts/setup.sh),
 * one Redis between them: the search rate limit is one limit across both, and when one API is killed with SIGKILL
 * the proxy keeps answering from the other. And one API stopped with SIGTERM: a search in flight finishes, one still
 * running at SHUTDOWN_TIMEOUT_MS is cut, and the exit status says which.
 */
jest.setTimeout(180_000);

const root = path.resolve(__dirname, '..', '..');
const MODEL = 'colour-texture';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForOk(url: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await fetch(url).then((response) => response.ok, () => false)) return;
    await sleep(200);
  }
  throw new Error(`${url} did not answer 200 in ${timeoutMs} ms`);
}

/** The built API on `port`; `env` adds to (or overrides) its settings; with `logs`, its log lines are kept there. */
function startApi(config: Config, port: number, env: Record<string, string> = {}, logs?: string[]): ChildProcess {
  const child = spawn(process.execPath, [path.join(root, 'dist', 'api', 'main.js')], {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      ES_URL: config.elasticsearch.url,
      REDIS_URL: config.redis.url,
      INDEX_ALIAS: config.index.alias,
      QUEUE_PREFIX: config.redis.queuePrefix,
      MODELS: MODEL,
      SEARCH_MODEL_WEIGHTS: `${MODEL}:1`,
      API_HOST: '127.0.0.1',
      API_PORT: String(port),
      // One shared limit: 10 searches per client, earned back at 1 a second.
      RATE_LIMIT_PER_S: '1',
      RATE_LIMIT_BURST: '10',
      // The client's address comes from HAProxy's X-Forwarded-For.
      TRUST_PROXY: 'loopback',
      // The burst of 30 concurrent searches waits for a search slot rather than being refused as overloaded (admission
      // is tested on its own): cold processes and a cold index answered the first searches in 40–75 ms, past the
      // default 100 ms wait for the fifth in line on 2 cores.
      SEARCH_QUEUE_WAIT_MS: '5000',
      ...env,
    },
    stdio: ['ignore', logs ? 'pipe' : 'ignore', 'inherit'],
  });
  child.stdout?.on('data', (chunk: Buffer) => logs!.push(...chunk.toString().trim().split('\n')));
  return child;
}

/**
 * HAProxy in the foreground with the deployment's own proxy settings (deploy/haproxy/haproxy.cfg: round robin, health
 * checks on /healthz, a failed connection retried on the other API) and a backend of the loopback APIs in place of
 * the compose file's DNS-discovered replicas. What it says on stderr is kept in `log` (it reports taking a server
 * out there).
 */
function startProxy(dir: string, port: number, backends: number[], log: string[]): ChildProcess {
  const file = path.join(dir, 'backend.cfg');
  fs.writeFileSync(file, `backend apis from apis
  http-response set-header x-served-by %s
${backends.map((backend, i) => `  server api-${i + 1} 127.0.0.1:${backend}`).join('\n')}
`);
  const proxy = spawn('haproxy', ['-db', '-f', path.join(root, 'deploy', 'haproxy', 'haproxy.cfg'), '-f', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PROXY_BIND: `127.0.0.1:${port}` },
  });
  proxy.stderr!.on('data', (chunk: Buffer) => log.push(...chunk.toString().trim().split('\n')));
  return proxy;
}

describe('two API processes behind HAProxy', () => {
  const haproxy = spawnSync('haproxy', ['-v']).status === 0;
  let config: Config;
  let deps: Deps;
  let dir: string;
  let proxyUrl: string;
  let vectors: number[][];
  const children: ChildProcess[] = [];
  const proxyLog: string[] = [];

  beforeAll(async () => {
    if (!haproxy) throw new Error('haproxy is not installed: run `npm run setup` (it installs Debian\'s haproxy)');
    config = testConfig({ MODELS: MODEL });
    deps = testDeps(config);
    await connectRedis(deps.redis, config.redis);
    const [spec] = vectorFieldSpecs(config, resolveManifests([MODEL]));
    await deps.indexManager.ensure([spec!]);
    const random = seededRandom(11);
    vectors = Array.from({ length: 20 }, () => randomUnitVector(random, spec!.dims));
    await indexProducts(deps, spec!, vectors.map((_, i) => randomProduct(random, i)), vectors);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-proxy-'));
    const apiPorts = [await freePort(), await freePort()];
    children.push(...apiPorts.map((port) => startApi(config, port)));
    await Promise.all(apiPorts.map((port) => waitForOk(`http://127.0.0.1:${port}/readyz`, 120_000)));
    const proxyPort = await freePort();
    children.push(startProxy(dir, proxyPort, apiPorts, proxyLog));
    proxyUrl = `http://127.0.0.1:${proxyPort}`;
    await waitForOk(`${proxyUrl}/healthz`, 20_000).catch((error: Error) => {
      throw new Error(`${error.message}; haproxy said: ${proxyLog.join(' | ')}`);
    });
  }, 180_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    if (deps) {
      const keys = await deps.redis.keys(`${config.redis.queuePrefix}:*`);
      if (keys.length > 0) await deps.redis.del(...keys);
      await deps.indexManager.dropAll();
      await deps.close();
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A vector search through the proxy as the client at `address`. */
  const search = async (address: string, n: number) => {
    const response = await fetch(`${proxyUrl}/v1/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
      body: JSON.stringify({ vector: vectors[n % vectors.length], k: 3 }),
    });
    const body = (await response.json()) as { results?: Array<{ id: string }>; error?: { code: string } };
    return { status: response.status, servedBy: response.headers.get('x-served-by'), body };
  };

  it('one rate limit across both processes: a client gets its burst once, whichever API answers', async () => {
    // Both APIs answer in turn; limited per process, this client would get 10 from each.
    const answers = await Promise.all(Array.from({ length: 30 }, (_, n) => search('10.0.0.1', n)));
    expect(new Set(answers.map((answer) => answer.servedBy))).toEqual(new Set(['api-1', 'api-2']));
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(10);
    expect(answers.filter((answer) => answer.status === 429 && answer.body.error?.code === 'rate_limited')).toHaveLength(20);
    // Another client has a limit of its own.
    expect((await search('10.0.0.2', 0)).status).toBe(200);
  });

  it('one API killed with SIGKILL: the proxy keeps answering from the other', async () => {
    // A new client address per request: the limit is not what this measures.
    const stream = steadyStream(async (n) => {
      const answer = await search(`10.1.${Math.floor(n / 250)}.${n % 250}`, n);
      const ok = answer.status === 200 && answer.body.results?.[0]?.id === `p-${n % vectors.length}`;
      return { ok, detail: ok ? answer.servedBy ?? '' : `${answer.status} ${answer.body.error?.code ?? ''}` };
    }, 100);
    await sleep(2_000);
    const killedAt = Date.now();
    children[0]!.kill('SIGKILL');
    await sleep(5_000);
    await stream.stop();

    const before = stream.outcomes.filter((outcome) => outcome.at < killedAt);
    expect(new Set(before.map((outcome) => outcome.detail))).toEqual(new Set(['api-1', 'api-2']));
    const window = failureWindow(stream.outcomes, killedAt);
    recordMeasurement('api-process-failure', { window, haproxy: proxyLog.filter((line) => line.includes('DOWN')) });
    // The health check took the dead API out.
    expect(proxyLog.some((line) => /api-1 is DOWN/.test(line))).toBe(true);
    // HAProxy retries a refused connection on the other API; the health check takes the dead one out within ~1 s.
    expect(window.errors).toBe(0);
    const after = stream.outcomes.filter((outcome) => outcome.at > killedAt + 2_000);
    expect(after.length).toBeGreaterThan(20);
    expect(after.every((outcome) => outcome.ok && outcome.detail === 'api-2')).toBe(true);
  });
});

describe('an API process stopped with SIGTERM', () => {
  let config: Config;
  let deps: Deps;
  let photos: http.Server;
  let photoUrl: string;

  beforeAll(async () => {
    config = testConfig({ MODELS: MODEL });
    deps = testDeps(config);
    await connectRedis(deps.redis, config.redis);
    await deps.indexManager.ensure(vectorFieldSpecs(config, resolveManifests([MODEL])));
    // A photo that takes its time: `/<ms>.png` answers after that many milliseconds.
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 200, g: 40, b: 40 } } }).png().toBuffer();
    photos = http.createServer((request, response) => {
      setTimeout(() => response.writeHead(200, { 'content-type': 'image/png' }).end(png), Number(request.url!.slice(1).split('.')[0]));
    });
    await new Promise<void>((resolve) => photos.listen(0, '127.0.0.1', resolve));
    photoUrl = `http://127.0.0.1:${(photos.address() as net.AddressInfo).port}`;
  });

  afterAll(async () => {
    photos?.close();
    if (deps) {
      await deps.indexManager.dropAll();
      await deps.close();
    }
  });

  /** SIGTERM while a search waits `photoMs` for its photo: the search's status (or "cut"), the exit code, the logs. */
  async function stopDuring(photoMs: number, shutdownMs: number) {
    const port = await freePort();
    const logs: string[] = [];
    const child = startApi(config, port, { SHUTDOWN_TIMEOUT_MS: String(shutdownMs), FETCH_ALLOWED_HOSTS: '127.0.0.1' }, logs);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitForOk(`http://127.0.0.1:${port}/readyz`, 120_000);
      const search = fetch(`http://127.0.0.1:${port}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image_url: `${photoUrl}/${photoMs}.png` }) }).then(
        (response) => response.status,
        () => 'cut' as const,
      );
      await sleep(300);
      child.kill('SIGTERM');
      return { status: await search, code: await exited, logs };
    } finally {
      child.kill('SIGKILL');
    }
  }

  it('lets a search in flight finish, then exits 0', async () => {
    const { status, code } = await stopDuring(1_500, 20_000);
    expect({ status, code }).toEqual({ status: 200, code: 0 });
  });

  it('cuts a search still running at SHUTDOWN_TIMEOUT_MS, says so, and exits 1', async () => {
    const { status, code, logs } = await stopDuring(5_000, 500);
    expect({ status, code }).toEqual({ status: 'cut', code: 1 });
    expect(logs.some((line) => line.includes('shutdown deadline reached'))).toBe(true);
  });
});
