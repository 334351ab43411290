import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertEachWrittenOnce, countIndexed, readIndexingLog, startIndexer, type IndexingEvent } from './indexer-processes';
import { startImageServer, startPipeline, upsert } from './pipeline-helpers';

/**
 * Three indexer processes on one queue, one of them killed with SIGKILL in the middle of a batch (its products
 * written, their jobs not yet acknowledged, and more jobs taken): the other two take its jobs over when their locks
 * expire, every product ends indexed, each document written once, and no image is embedded again after its product
 * was written (a redelivered job finds its version written and completes without embedding).
 */
jest.setTimeout(180_000);

/**
 * What must hold per product, from the indexing log of all processes (in the order things happened):
 * - each process embedded it at most once per delivery it took;
 * - once any process wrote it, no process embedded its image again, unless the survivors took its job more than once
 *   (two deliveries can overlap when a starved process loses its lock: the second read before the first wrote).
 * Returns the violations.
 */
function checkScaleOutEmbeddings(events: IndexingEvent[], imageOf: Map<string, string>, killedPid: number): string[] {
  const problems: string[] = [];
  const took = new Map<string, number>();
  const embedded = new Map<string, number>();
  const written = new Set<string>();
  const survivorDeliveries = new Map<string, number>();
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  for (const event of events) {
    const product = event.what === 'embedded' ? imageOf.get(event.subject) : event.subject;
    if (!product) continue;
    if (event.what === 'took') {
      bump(took, `${event.pid} ${product}`);
      if (event.pid !== killedPid) bump(survivorDeliveries, product);
    } else if (event.what === 'embedded') {
      bump(embedded, `${event.pid} ${product}`);
      if (written.has(product)) problems.push(`${product}: embedded again by ${event.pid} after it was written`);
    } else if (event.what === 'wrote') {
      written.add(product);
    }
  }
  for (const [key, count] of embedded) {
    if (count > (took.get(key) ?? 0)) problems.push(`${key}: embedded ${count} times in ${took.get(key) ?? 0} deliveries`);
  }
  return problems.filter((problem) => !problem.includes('embedded again') || (survivorDeliveries.get(problem.split(':')[0]!) ?? 0) <= 1);
}

it('three indexers on one queue, one killed mid-batch: nothing lost, each document written once, nothing embedded after it was written', async () => {
  const images = await startImageServer();
  const p = await startPipeline({}, { startWorker: false });
  const indexingLog = path.join(os.tmpdir(), `lookalike-indexing-${p.config.index.alias}.log`);
  const workers: ChildProcess[] = [];
  try {
    const ids = Array.from({ length: 90 }, (_, i) => `s-${i}`);
    // Small batches, so that each process takes several while the others work.
    // The first process pauses 4 s after each write, before acknowledging its jobs: it is killed in that pause.
    for (let i = 0; i < 3; i++) workers.push(startIndexer(p, { BATCH_MAX_ITEMS: '4', WORKER_CONCURRENCY: '8', INDEXING_HOLD_AFTER_WRITE_MS: i === 0 ? '4000' : '0' }, indexingLog));
    expect((await p.post({ events: ids.map((id, i) => upsert(id, 1, `${images.url}/img/${1300 + i}.jpg`)) })).status).toBe(202);

    // Kill the first process once it has written a batch whose jobs it has not acknowledged.
    const victim = workers[0]!;
    await p.waitFor(async () => {
      if (!fs.existsSync(indexingLog)) return false;
      const mine = readIndexingLog(indexingLog).filter((event) => event.pid === victim.pid);
      return mine.filter((event) => event.what === 'wrote').length > mine.filter((event) => event.what === 'done').length;
    }, 90_000);
    victim.kill('SIGKILL');
    await new Promise((resolve) => victim.once('exit', resolve));
    const victimPid = victim.pid!;

    await p.waitFor(async () => (await countIndexed(p, 1)) === ids.length, 120_000);
    await p.waitFor(async () => (await p.queue.getJobCountByTypes('waiting', 'active', 'delayed')) === 0, 60_000);
    const documents = await assertEachWrittenOnce(p, ids, 1);
    expect(await p.queue.getJobCountByTypes('failed')).toBe(0);

    const events = readIndexingLog(indexingLog);
    const imageOf = new Map(documents.map((document) => [document.imageHash, document.id]));
    const by = (what: IndexingEvent['what'], pid: number) => new Set(events.filter((event) => event.what === what && event.pid === pid).map((event) => (what === 'embedded' ? imageOf.get(event.subject)! : event.subject)));
    const survivors = workers.slice(1).map((worker) => worker.pid!);
    const bySurvivors = (what: IndexingEvent['what']) => new Set(survivors.flatMap((pid) => [...by(what, pid)]));
    // The killed process had written products whose jobs it never acknowledged: the others took those jobs again,
    // finished them, and embedded none of them.
    const writtenNotDone = [...by('wrote', victimPid)].filter((id) => !by('done', victimPid).has(id));
    expect(writtenNotDone.length).toBeGreaterThan(0);
    for (const id of writtenNotDone) {
      expect({ id, finishedByAnother: bySurvivors('done').has(id), embeddedAgain: bySurvivors('embedded').has(id) }).toEqual({ id, finishedByAnother: true, embeddedAgain: false });
    }
    // Whatever else it had taken, the others finished; each of them did part of the work.
    for (const id of by('took', victimPid)) expect({ id, finished: by('done', victimPid).has(id) || bySurvivors('done').has(id) }).toEqual({ id, finished: true });
    for (const pid of survivors) expect(by('done', pid).size).toBeGreaterThan(0);
    expect(checkScaleOutEmbeddings(events, imageOf, victimPid)).toEqual([]);
  } finally {
    for (const worker of workers) worker.kill('SIGKILL');
    await sleep(100);
    await p.close();
    await images.close();
    fs.rmSync(indexingLog, { force: true });
  }
});
