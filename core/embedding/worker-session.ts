import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';

/**
 * An ONNX Runtime session that runs in a worker thread.
 *
 * onnxruntime-node's `session.run` is synchronous under its promise (the native call runs inside a `setImmediate` on
 * the JS thread), so on the main thread every inference blocks the event loop for its whole length: no request is
 * parsed, no photo decoded and no Elasticsearch answer read while a model runs. Each session here lives in a worker
 * of its own; the main thread sends inputs and gets outputs as messages, and keeps serving meanwhile. Runs of one
 * session are serial (as they were); sessions of different models run side by side in their workers.
 *
 * A worker that stops (a crash, an out-of-memory) fails the runs it held with an error and is started again, from the
 * same model bytes and options, on the next run.
 */

/** A tensor as it crosses threads: float32 data and its shape. */
export interface TensorData {
  data: Float32Array;
  dims: readonly number[];
}

type Request = { type: 'create'; bytes: Uint8Array; options: ort.InferenceSession.SessionOptions } | { type: 'run'; id: number; feeds: Record<string, TensorData>; fetches: string[] };

type Reply =
  | { type: 'created'; inputNames: string[]; outputNames: string[] }
  | { type: 'ran'; id: number; outputs: Record<string, TensorData> }
  | { type: 'failed'; id: number | null; message: string };

/*
 * The worker's code, evaluated rather than loaded from a file, so that it is the same under ts-jest (TypeScript
 * sources) and in dist/ (compiled JavaScript). It only forwards to ONNX Runtime; everything else stays here.
 */
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
let session = null;
const fail = (id, error) => parentPort.postMessage({ type: 'failed', id, message: error && error.message ? error.message : String(error) });
parentPort.on('message', async (message) => {
  if (message.type === 'create') {
    try {
      session = await ort.InferenceSession.create(message.bytes, message.options);
      parentPort.postMessage({ type: 'created', inputNames: session.inputNames, outputNames: session.outputNames });
    } catch (error) {
      fail(null, error);
    }
    return;
  }
  try {
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
    try {
      parentPort.postMessage({ type: 'ran', id: message.id, outputs }, transfer);
    } catch {
      // A buffer that cannot be moved (ONNX Runtime's own memory) is copied instead.
      parentPort.postMessage({ type: 'ran', id: message.id, outputs });
    }
  } catch (error) {
    fail(message.id, error);
  }
});
`;

interface Pending {
  resolve: (outputs: Record<string, TensorData>) => void;
  reject: (error: Error) => void;
}

export class WorkerSession {
  private worker: Worker | null = null;
  private starting: Promise<Worker> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private released = false;

  private constructor(
    private readonly label: string,
    private readonly bytes: Uint8Array,
    private readonly options: ort.InferenceSession.SessionOptions,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  /** Starts a worker and creates the session in it; rejects with ONNX Runtime's message when it cannot be created. */
  static async create(bytes: Uint8Array, options: ort.InferenceSession.SessionOptions, label: string): Promise<WorkerSession> {
    const { worker, inputNames, outputNames } = await startWorker(bytes, options);
    const session = new WorkerSession(label, bytes, options, inputNames, outputNames);
    session.adopt(worker);
    return session;
  }

  /**
   * Runs the session on `feeds` (float32 tensors) and returns the `fetches` outputs. The inputs are copied to the
   * worker (the caller's arrays stay usable); the outputs are moved back without a copy.
   */
  async run(feeds: Record<string, TensorData>, fetches: readonly string[]): Promise<Record<string, TensorData>> {
    if (this.released) throw new Error(`model ${this.label}: the session was released`);
    const worker = await this.ready();
    const id = this.nextId++;
    const transfer: ArrayBuffer[] = [];
    const copies: Record<string, TensorData> = {};
    for (const [name, tensor] of Object.entries(feeds)) {
      const data = tensor.data.slice();
      copies[name] = { data, dims: [...tensor.dims] };
      transfer.push(data.buffer as ArrayBuffer);
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // The worker holds the process open only while it has work: an idle model never keeps a CLI from exiting.
      worker.ref();
      worker.postMessage({ type: 'run', id, feeds: copies, fetches: [...fetches] } satisfies Request, transfer);
    });
  }

  /** Stops the worker; runs still in flight fail. */
  async release(): Promise<void> {
    this.released = true;
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  private async ready(): Promise<Worker> {
    if (this.worker) return this.worker;
    this.starting ??= startWorker(this.bytes, this.options)
      .then(({ worker }) => {
        if (this.released) {
          void worker.terminate();
          throw new Error(`model ${this.label}: the session was released`);
        }
        this.adopt(worker);
        return worker;
      })
      .finally(() => (this.starting = null));
    return this.starting;
  }

  private adopt(worker: Worker): void {
    this.worker = worker;
    worker.unref();
    worker.on('message', (reply: Reply) => {
      if (reply.type === 'created' || reply.id === null) return;
      const pending = this.pending.get(reply.id);
      if (!pending) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if (reply.type === 'ran') pending.resolve(reply.outputs);
      else pending.reject(new Error(reply.message));
    });
    worker.on('error', () => undefined); // its exit, which follows, fails what it held
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = null;
      const reason = new Error(this.released ? `model ${this.label}: the session was released` : `model ${this.label}: its inference worker stopped (exit code ${code})`);
      for (const pending of this.pending.values()) pending.reject(reason);
      this.pending.clear();
    });
  }
}

/** Starts a worker with a session created from `bytes`; terminates it again when the session cannot be created. */
function startWorker(bytes: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<{ worker: Worker; inputNames: string[]; outputNames: string[] }> {
  const worker = new Worker(WORKER_CODE, { eval: true, workerData: { ortPath: require.resolve('onnxruntime-node') } });
  return new Promise((resolve, reject) => {
    const settle = (): void => {
      worker.off('error', fail);
      worker.off('exit', exited);
      worker.off('message', created);
    };
    function fail(error: Error): void {
      settle();
      void worker.terminate();
      reject(error);
    }
    function exited(code: number): void {
      fail(new Error(`the inference worker stopped while creating the session (exit code ${code})`));
    }
    function created(reply: Reply): void {
      if (reply.type !== 'created') return fail(new Error(reply.type === 'failed' ? reply.message : 'unexpected reply from the inference worker'));
      settle();
      resolve({ worker, inputNames: reply.inputNames, outputNames: reply.outputNames });
    }
    worker.on('error', fail);
    worker.on('exit', exited);
    worker.on('message', created);
    worker.postMessage({ type: 'create', bytes, options } satisfies Request);
  });
}
