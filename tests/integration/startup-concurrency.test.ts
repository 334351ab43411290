import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import type { Deps } from '../../core/deps';
import { testConfig, testDeps, testModel } from './helpers';

const cli = path.join(__dirname, '..', '..', 'bin', 'lookalike.js');
const PROCESSES = 5;
const ROUNDS = 8;

interface Exit {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Starts the built CLI and resolves when it exits. */
function start(args: string[], env: Record<string, string>): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, LOG_LEVEL: 'silent', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/**
 * Runs `hook` after each request `es` answers (or fails), before the caller sees the answer: the moment another
 * process can act between two steps of ours.
 */
function afterEachRequest(es: Client, hook: (count: number) => Promise<void>): void {
  const transport = es.transport;
  const request = transport.request.bind(transport);
  let count = 0;
  transport.request = (async (params: Parameters<typeof request>[0], options?: Parameters<typeof request>[1]) => {
    try {
      return await request(params, options);
    } finally {
      await hook(++count);
    }
  }) as typeof transport.request;
}

describe('ensure when another process creates the index between two of its steps', () => {
  const model = testModel();
  let cleanup: Deps[] = [];

  afterEach(async () => {
    for (const deps of cleanup) {
      await deps.indexManager.dropAll();
      await deps.close();
    }
    cleanup = [];
  });

  /** Our process and a rival with its own client on one fresh alias. */
  function pair(): { ours: Deps; rival: Deps } {
    const config = testConfig();
    const ours = testDeps(config);
    const rival = testDeps(config);
    cleanup.push(ours, rival);
    return { ours, rival };
  }

  it('finds the rival\'s index behind the alias, whichever of its requests the rival came after', async () => {
    // How many requests ensure makes on a fresh alias when it is alone.
    const alone = pair();
    let requests = 0;
    afterEachRequest(alone.ours.es, async (count) => void (requests = count));
    await alone.ours.indexManager.ensure([model]);
    expect(requests).toBeGreaterThan(0);

    for (let after = 1; after <= requests; after++) {
      const { ours, rival } = pair();
      let rivalResult: unknown;
      afterEachRequest(ours.es, async (count) => {
        if (count === after) rivalResult = await rival.indexManager.ensure([model]);
      });
      const result = await ours.indexManager.ensure([model]);
      const v1 = `${ours.indexManager.alias}-v1`;
      expect({ after, result, rivalResult }).toEqual({
        after,
        result: { index: v1, created: after === requests, addedModels: [] },
        rivalResult: { index: v1, created: after < requests, addedModels: [] },
      });
      expect(await ours.indexManager.versions()).toEqual([1]);
      expect(await ours.indexManager.currentIndex()).toBe(v1);
    }
  });

  it('gives up with a StartupError, instead of looping, when the version it creates keeps appearing first', async () => {
    const { ours, rival } = pair();
    let created = 0;
    afterEachRequest(ours.es, async () => {
      // Before each create of ours: a rival makes that same version, without the alias (so ours never sees one).
      const next = rival.indexManager.versionName(((await rival.indexManager.versions())[0] ?? 0) + 1);
      if (created < 20) {
        created++;
        await rival.indexManager.createIndex(next, [model]);
      }
    });
    await expect(ours.indexManager.ensure([model])).rejects.toMatchObject({ code: 'index_create_conflict' });
    expect(created).toBeLessThan(20);
  });
});

describe('processes starting together on a fresh alias', () => {
  it(`all come up, and exactly one index version is made behind the alias (${PROCESSES} processes × ${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const config = testConfig();
      const deps = testDeps(config);
      try {
        // The API and the indexer run the same ensure at start-up; the CLI's `index ensure` is that step on its own.
        const exits = await Promise.all(Array.from({ length: PROCESSES }, () => start(['index', 'ensure'], { INDEX_ALIAS: config.index.alias, MODELS: 'colour-texture' })));
        expect({ round, exits: exits.map(({ status, stderr }) => ({ status, stderr })) }).toEqual({ round, exits: exits.map(() => ({ status: 0, stderr: '' })) });
        const results = exits.map((exit) => JSON.parse(exit.stdout) as { index: string; created: boolean });
        expect(results.map((result) => result.index)).toEqual(exits.map(() => `${config.index.alias}-v1`));
        expect(results.filter((result) => result.created)).toHaveLength(1);
        expect(await deps.indexManager.versions()).toEqual([1]);
        expect(await deps.indexManager.currentIndex()).toBe(`${config.index.alias}-v1`);
      } finally {
        await deps.indexManager.dropAll();
        await deps.close();
      }
    }
    // Five CLI starts a round take a few seconds of CPU; a busy two-core machine needs the room.
  }, 300_000);
});
