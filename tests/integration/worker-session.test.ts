import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { inferenceHostForTests, WorkerSession } from '../../core/embedding/worker-session';

/** The built-in embedding model (built by `npm run setup`), run in a worker and on this thread to compare. */
const modelFile = path.resolve(__dirname, '..', '..', '.cache', 'models', 'efficientnet-lite0.onnx');
const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 2, executionProviders: ['cpu'] };

function randomBatch(n: number): Float32Array {
  const data = new Float32Array(n * 3 * 224 * 224);
  let seed = 7;
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    data[i] = (seed / 0x7fffffff) * 2 - 1;
  }
  return data;
}

describe('an ONNX Runtime session in a worker thread', () => {
  let session: WorkerSession;
  const bytes = fs.readFileSync(modelFile);

  beforeAll(async () => {
    session = await WorkerSession.create(() => new Uint8Array(bytes), options, 'efficientnet-lite0');
  }, 60_000);
  afterAll(async () => {
    await session.release();
  });

  it('gives the outputs of the same session run on this thread, and leaves the inputs usable', async () => {
    const data = randomBatch(2);
    const copy = data.slice();
    const [input] = session.inputNames;
    const [output] = session.outputNames;
    const ours = await session.run({ [input!]: { data, dims: [2, 3, 224, 224] } }, [output!]);
    const local = await ort.InferenceSession.create(bytes, options);
    const theirs = await local.run({ [input!]: new ort.Tensor('float32', copy, [2, 3, 224, 224]) }, [output!]);
    await local.release();
    expect(ours[output!]!.dims).toEqual([...theirs[output!]!.dims]);
    expect([...ours[output!]!.data]).toEqual([...(theirs[output!]!.data as Float32Array)]);
    expect(data).toEqual(copy);
  }, 60_000);

  it('leaves the event loop free while the model runs', async () => {
    // ONNX Runtime's own run blocks the thread that calls it for the whole inference: a timer could not fire.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    const [input] = session.inputNames;
    await session.run({ [input!]: { data: randomBatch(8), dims: [8, 3, 224, 224] } }, [session.outputNames[0]!]);
    clearInterval(timer);
    expect(ticks).toBeGreaterThanOrEqual(5);
  }, 60_000);

  it('fails the runs of a worker that stops, and starts a new worker for the next run', async () => {
    const [input] = session.inputNames;
    const feeds = { [input!]: { data: randomBatch(1), dims: [1, 3, 224, 224] } };
    const running = session.run(feeds, [session.outputNames[0]!]);
    // What a crash of the worker looks like from here: it exits with its run unanswered.
    await inferenceHostForTests.worker!.terminate();
    await expect(running).rejects.toThrow(/inference worker stopped/);
    const again = await session.run(feeds, [session.outputNames[0]!]);
    expect(again[session.outputNames[0]!]!.dims).toEqual([1, 1280]);
  }, 60_000);

  it('refuses a model it cannot load with ONNX Runtime\'s reason, and runs after release', async () => {
    await expect(WorkerSession.create(() => Buffer.from('not a model'), options, 'broken')).rejects.toThrow(/protobuf|parse|load/i);
    const other = await WorkerSession.create(() => new Uint8Array(bytes), options, 'efficientnet-lite0');
    await other.release();
    await expect(other.run({}, [])).rejects.toThrow(/released/);
  }, 60_000);

  it('opens a model once for every caller with the same share key (the embedding model and the localizer), until the last releases it', async () => {
    let loads = 0;
    const load = () => {
      loads++;
      return new Uint8Array(bytes);
    };
    const feeds = { image: { data: randomBatch(1), dims: [1, 3, 224, 224] } };
    // Opened side by side, as two models starting at once would: one creation.
    const [first, second] = await Promise.all([WorkerSession.create(load, options, 'embedding', 'same-bytes'), WorkerSession.create(load, options, 'localizer', 'same-bytes')]);
    expect(loads).toBe(1);
    expect(second!.outputNames).toEqual(first!.outputNames);
    const other = await WorkerSession.create(load, { ...options, intraOpNumThreads: 1 }, 'other options', 'other-key');
    expect(loads).toBe(2);
    await first!.release();
    expect((await second!.run(feeds, ['features'])).features!.dims).toEqual([1, 1280]);
    await second!.release();
    await expect(second!.run(feeds, ['features'])).rejects.toThrow(/released/);
    // Released by both: the next caller with that key creates it again.
    const again = await WorkerSession.create(load, options, 'embedding', 'same-bytes');
    expect(loads).toBe(3);
    await Promise.all([again.release(), other.release()]);
  }, 60_000);
});

describe('releasing the last session while it runs', () => {
  it('lets the run end before the worker stops: stopping it mid-run would abort the whole process', () => {
    // In a process of its own (the API or the indexer stopping while a search or a batch still runs): with the worker
    // stopped under a running model, ONNX Runtime aborts the process ("terminate called after throwing an instance of
    // 'Napi::Error'"), which would take this test runner down with it.
    const script = `
      const fs = require('node:fs');
      const { WorkerSession } = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'core', 'embedding', 'worker-session.ts'))});
      (async () => {
        const bytes = fs.readFileSync(${JSON.stringify(modelFile)});
        for (let round = 0; round < 5; round++) {
          const session = await WorkerSession.create(() => new Uint8Array(bytes), { intraOpNumThreads: 2, executionProviders: ['cpu'] }, 'model');
          const feeds = { [session.inputNames[0]]: { data: new Float32Array(8 * 3 * 224 * 224).fill(0.1), dims: [8, 3, 224, 224] } };
          const running = session.run(feeds, [session.outputNames[0]]);
          await new Promise((resolve) => setTimeout(resolve, 5 + round * 5));
          const released = session.release();
          console.log(await running.then((outputs) => 'ran ' + outputs[session.outputNames[0]].dims.join('x'), (error) => 'failed: ' + error.message));
          await released;
        }
      })();`;
    const tsx = path.resolve(__dirname, '..', '..', 'node_modules', '.bin', 'tsx');
    const child = spawnSync(tsx, ['-e', script], { encoding: 'utf8', timeout: 120_000 });
    expect(child.stderr).not.toContain('terminate called');
    expect([child.status, child.stdout.trim().split('\n')]).toEqual([0, Array(5).fill('ran 8x1280')]);
  }, 150_000);
});
