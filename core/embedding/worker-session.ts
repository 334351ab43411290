import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';

/**
 * ONNX Runtime sessions that run in a worker thread.
 *
 * onnxruntime-node's `session.run` is synchronous under its promise (the native call runs inside a `setImmediate` on
 * the JS thread), so on the main thread every inference blocks the event loop for its whole length: no request is
 * parsed, no photo decoded and no Elasticsearch answer read while a model runs. Here the sessions live in one worker
 * thread per process (the inference host); the main thread sends inputs and gets outputs as messages, and keeps
 * serving meanwhile. Runs are one at a time in the worker, as they were on the main thread, each on its session's
 * own ONNX Runtime threads.
 *
 * One worker for all sessions, not one each: a worker costs its own isolate and ONNX Runtime environment, measured at
 * 40–90 MB of resident memory each with the built-in models (four workers: +330 MB; one: +180 MB, as on the main
 * thread).
 *
 * A worker that stops (a crash, an out-of-memory) fails the runs it held with an error; the next run starts a new
 * worker and creates its sessions again from their model files.
 */

/** A tensor as it crosses threads: float32 data and its shape. */
export interface TensorData {
  data: Float32Array;
  dims: readonly number[];
}

/** Reads a model's bytes (again, after a worker stopped): the caller checks them as it did the first time. */
export type ModelLoader = () => Uint8Array;

type Request =
  | { type: 'create'; id: number; key: number; bytes: Uint8Array; options: ort.InferenceSession.SessionOptions }
  | { type: 'run'; id: number; key: number; feeds: Record<string, TensorData>; fetches: string[] }
  | { type: 'release'; id: number; key: number };

type Reply =
  | { type: 'created'; id: number; inputNames: string[]; outputNames: string[] }
  | { type: 'ran'; id: number; outputs: Record<string, TensorData> }
  | { type: 'released'; id: number }
  | { type: 'failed'; id: number; message: string };

/*
 * The worker's code, evaluated rather than loaded from a file, so that it is the same under ts-jest (TypeScript
 * sources) and in dist/ (compiled JavaScript). It only forwards to ONNX Runtime; everything else stays here.
 */
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const sessions = new Map();
async function handle(message) {
  if (message.type === 'create') {
    const session = await ort.InferenceSession.create(message.bytes, message.options);
    sessions.set(message.key, session);
    return [{ type: 'created', id: message.id, inputNames: session.inputNames, outputNames: session.outputNames }, []];
  }
  const session = sessions.get(message.key);
  if (!session) throw new Error('no session ' + message.key + ' in the inference worker');
  if (message.type === 'release') {
    sessions.delete(message.key);
    await session.release();
    return [{ type: 'released', id: message.id }, []];
  }
  const feeds = {};
  for (const [name, tensor] of Object.entries(message.feeds)) feeds[name] = new ort.Tensor('float32', tensor.data, tensor.dims);
  const results = await session.run(feeds, message.fetches);
  const outputs = {};
  const transfer = [];
  for (const name of message.fetches) {
    const tensor = results[name];
    if (tensor.type !== 'float32') throw new Error('output ' + name + ' is ' + tensor.type + ', not float32');
    outputs[name] = { data: tensor.data, dims: Array.from(tensor.dims) };
    if (!transfer.includes(tensor.data.buffer)) transfer.push(tensor.data.buffer);
  }
  return [{ type: 'ran', id: message.id, outputs }, transfer];
}
parentPort.on('message', async (message) => {
  let reply;
  try {
    reply = await handle(message);
  } catch (error) {
    parentPort.postMessage({ type: 'failed', id: message.id, message: error && error.message ? error.message : String(error) });
    return;
  }
  try {
    parentPort.postMessage(reply[0], reply[1]);
  } catch {
    // A buffer that cannot be moved (ONNX Runtime's own memory) is copied instead.
    parentPort.postMessage(reply[0]);
  }
});
`;

interface Pending {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
}

interface Registration {
  load: ModelLoader;
  options: ort.InferenceSession.SessionOptions;
  label: string;
  /**
   * Sessions opened with the same share key (the same model bytes and options) are one session: the embedding model
   * and the localizer, one graph with two outputs, hold its weights and ONNX Runtime arena once.
   */
  shareKey?: string | undefined;
}

interface Open extends Registration {
  inputNames: string[];
  outputNames: string[];
  /** Callers holding it: released with the last. */
  holders: number;
}

/** The worker thread that holds a process's sessions (one, shared: see above). */
class InferenceHost {
  private worker: Worker | null = null;
  private starting: Promise<Worker> | null = null;
  private readonly sessions = new Map<number, Open>();
  private readonly opening = new Map<string, Promise<unknown>>();
  private readonly pending = new Map<number, Pending>();
  /** The runs in the worker now, by session key. */
  private readonly runs = new Map<number, Set<Promise<unknown>>>();
  private nextId = 1;
  private nextKey = 1;

  /** Creates a session in the worker (starting it if needed); rejects with ONNX Runtime's reason. */
  async open(registration: Registration): Promise<{ key: number; inputNames: string[]; outputNames: string[] }> {
    const { shareKey } = registration;
    if (shareKey === undefined) return this.create(registration);
    // One creation per share key at a time: a second caller waits for it, then holds what it made (or, when it
    // failed, tries itself).
    for (let pending = this.opening.get(shareKey); pending; pending = this.opening.get(shareKey)) await pending.catch(() => undefined);
    const shared = this.shared(shareKey);
    if (shared) return shared;
    const creating = this.create(registration).finally(() => this.opening.delete(shareKey));
    this.opening.set(shareKey, creating);
    return creating;
  }

  private async create(registration: Registration): Promise<{ key: number; inputNames: string[]; outputNames: string[] }> {
    const key = this.nextKey++;
    const worker = await this.ready();
    const bytes = registration.load();
    const reply = await this.send(worker, { type: 'create', id: 0, key, bytes, options: registration.options }, movable(bytes));
    if (reply.type !== 'created') throw new Error('unexpected reply from the inference worker');
    this.sessions.set(key, { ...registration, inputNames: reply.inputNames, outputNames: reply.outputNames, holders: 1 });
    return { key, inputNames: reply.inputNames, outputNames: reply.outputNames };
  }

  /** The open session with this share key, held once more; null when none is open. */
  private shared(shareKey: string): { key: number; inputNames: string[]; outputNames: string[] } | null {
    for (const [key, open] of this.sessions) {
      if (open.shareKey !== shareKey) continue;
      open.holders++;
      return { key, inputNames: open.inputNames, outputNames: open.outputNames };
    }
    return null;
  }

  async run(key: number, feeds: Record<string, TensorData>, fetches: readonly string[]): Promise<Record<string, TensorData>> {
    const worker = await this.ready();
    const copies: Record<string, TensorData> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, tensor] of Object.entries(feeds)) {
      // A copy of its own, moved to the worker: the caller's arrays (often views into a larger batch) stay usable.
      const data = tensor.data.slice();
      copies[name] = { data, dims: [...tensor.dims] };
      transfer.push(data.buffer as ArrayBuffer);
    }
    const replied = this.send(worker, { type: 'run', id: 0, key, feeds: copies, fetches: [...fetches] }, transfer);
    const runs = this.runs.get(key) ?? new Set<Promise<unknown>>();
    this.runs.set(key, runs);
    runs.add(replied);
    const done = () => {
      runs.delete(replied);
      if (runs.size === 0 && this.runs.get(key) === runs) this.runs.delete(key);
    };
    replied.then(done, done);
    const reply = await replied;
    if (reply.type !== 'ran') throw new Error('unexpected reply from the inference worker');
    return reply.outputs;
  }

  /**
   * Releases a session; the worker stops with the last one. The session's runs (every run, when the worker stops) end
   * first: releasing a session or stopping the worker while ONNX Runtime runs in it aborts the whole process
   * ("terminate called after throwing an instance of 'Napi::Error'"), as a search still running when the API stops would.
   */
  async close(key: number): Promise<void> {
    const open = this.sessions.get(key);
    if (!open || --open.holders > 0) return;
    this.sessions.delete(key);
    const worker = this.worker;
    if (!worker) return;
    const running = this.sessions.size === 0 ? [...this.runs.values()].flatMap((runs) => [...runs]) : [...(this.runs.get(key) ?? [])];
    await Promise.allSettled(running);
    // Stopped meanwhile (its runs failed with it), or a session opened meanwhile keeps it.
    if (this.worker !== worker) return;
    if (this.sessions.size === 0) {
      this.worker = null;
      await worker.terminate();
    } else {
      await this.send(worker, { type: 'release', id: 0, key }).catch(() => undefined);
    }
  }

  private send(worker: Worker, request: Request, transfer: ArrayBuffer[] = []): Promise<Reply> {
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // The worker holds the process open only while it has work: idle models never keep a CLI from exiting.
      worker.ref();
      worker.postMessage({ ...request, id }, transfer);
    });
  }

  private ready(): Promise<Worker> {
    if (this.worker) return Promise.resolve(this.worker);
    this.starting ??= this.start().finally(() => (this.starting = null));
    return this.starting;
  }

  /** Starts a worker and creates in it every session opened before (after a worker stopped). */
  private async start(): Promise<Worker> {
    const worker = new Worker(WORKER_CODE, { eval: true, workerData: { ortPath: require.resolve('onnxruntime-node') } });
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const pending = this.pending.get(reply.id);
      if (!pending) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if (reply.type === 'failed') pending.reject(new Error(reply.message));
      else pending.resolve(reply);
    });
    worker.on('error', () => undefined); // its exit, which follows, fails what it held
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = null;
      const reason = new Error(`the inference worker stopped (exit code ${code})`);
      for (const pending of this.pending.values()) pending.reject(reason);
      this.pending.clear();
    });
    try {
      for (const [key, { load, options }] of this.sessions) {
        const bytes = load();
        await this.send(worker, { type: 'create', id: 0, key, bytes, options }, movable(bytes));
      }
    } catch (error) {
      void worker.terminate();
      throw error;
    }
    this.worker = worker;
    return worker;
  }
}

/** The buffer of `bytes` when it holds nothing else (moved to the worker, not copied); else none (copied). */
function movable(bytes: Uint8Array): ArrayBuffer[] {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? [bytes.buffer] : [];
}

const host = new InferenceHost();

export class WorkerSession {
  private released = false;

  private constructor(
    private readonly key: number,
    private readonly label: string,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  /**
   * Creates the session in the inference worker from the bytes `load` returns (called again to re-create it after the
   * worker stopped); rejects with ONNX Runtime's message when it cannot be created. Callers with the same `shareKey`
   * hold one session, released with the last of them.
   */
  static async create(load: ModelLoader, options: ort.InferenceSession.SessionOptions, label: string, shareKey?: string): Promise<WorkerSession> {
    const { key, inputNames, outputNames } = await host.open({ load, options, label, shareKey });
    return new WorkerSession(key, label, inputNames, outputNames);
  }

  /**
   * Runs the session on `feeds` (float32 tensors) and returns the `fetches` outputs. The inputs are copied to the
   * worker; the outputs are moved back without a copy.
   */
  async run(feeds: Record<string, TensorData>, fetches: readonly string[]): Promise<Record<string, TensorData>> {
    if (this.released) throw new Error(`model ${this.label}: the session was released`);
    try {
      return await host.run(this.key, feeds, fetches);
    } catch (error) {
      throw new Error(`model ${this.label}: ${(error as Error).message}`, { cause: error });
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await host.close(this.key);
  }
}

/** The inference worker, for tests that stop it as a crash would. */
export const inferenceHostForTests = host as unknown as { worker: Worker | null };
