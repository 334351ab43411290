import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type * as ort from 'onnxruntime-node';
import type { Config } from '../config';
import { AppError, StartupError } from '../errors';
import type { Logger } from '../logger';
import type { ModelManifest } from './manifest';
import { RunCoalescer } from './run-coalescer';
import { WorkerSession, type ModelLoader } from './worker-session';

/**
 * One ONNX Runtime session per model, created once and warmed up, in the process's inference worker thread
 * (WorkerSession: ONNX Runtime's run would otherwise block the event loop). The same code runs on CPU and GPU: the
 * execution provider is `cpu`, `cuda`, or `auto` (CUDA when its provider library loads, else CPU, said in one log
 * line).
 */
export type ExecutionProvider = 'cpu' | 'cuda';

/**
 * Most images per ONNX run of a model, never above its manifest's `maxBatch`: EMBED_MAX_BATCH when set, else by
 * provider. On CPU, 4: EfficientNet-Lite0 on 2 threads runs as many images a second at batch 4 as at 8 (and 161 at
 * 32), while ONNX Runtime's arena keeps the memory of the largest batch it has run: the main model held 218 MiB after
 * batches of up to 4, 301 up to 8 (benchmarks/results/onnx-memory.md, embedding-speed.md). A GPU wants larger batches.
 */
export function batchLimit(configured: number, provider: ExecutionProvider, modelMax = Infinity): number {
  return Math.min(configured > 0 ? configured : provider === 'cuda' ? 32 : 4, modelMax);
}

/** One image's outputs: its pooled vector and, when asked of a model with `regions`, its feature map (channels first). */
export interface ModelOutput {
  vector: Float32Array;
  map?: { features: Float32Array; cells: number };
}

export class EmbeddingModel {
  /** Every run of the model goes through it: concurrent callers' images share batches (dynamic batching). */
  private readonly runs: RunCoalescer<ModelOutput>;
  private runListener: ((images: number, ms: number) => void) | undefined;

  private constructor(
    readonly manifest: ModelManifest,
    readonly provider: ExecutionProvider,
    private readonly session: WorkerSession,
    readonly maxBatch: number,
  ) {
    this.runs = new RunCoalescer((data, n, withMap) => this.runRaw(data, n, withMap), this.inputSize, maxBatch, (images, ms) => this.runListener?.(images, ms));
  }

  /** Told the images and milliseconds of each run of the model (the API's model-run metrics: `Embedder.onRun`). */
  onRun(listener: (images: number, ms: number) => void): void {
    this.runListener = listener;
  }

  get id(): string {
    return this.manifest.id;
  }

  get version(): string {
    return this.manifest.version;
  }

  get dims(): number {
    return this.manifest.dims;
  }

  /** Floats per image in the input tensor. */
  get inputSize(): number {
    return 3 * this.manifest.input.width * this.manifest.input.height;
  }

  static async load(manifest: ModelManifest, onnx: Config['onnx'], logger: Logger): Promise<EmbeddingModel> {
    const { session, provider } = await openSession(manifest, onnx, logger);
    const model = new EmbeddingModel(manifest, provider, session, batchLimit(onnx.maxBatch, provider, manifest.maxBatch));
    model.checkSignature();
    await model.warmUp();
    return model;
  }

  private checkSignature(): void {
    const { input, output, id } = this.manifest;
    if (!this.session.inputNames.includes(input.name)) {
      throw new StartupError('model_signature_mismatch', `model ${id}: no input "${input.name}" (it has ${this.session.inputNames.join(', ')})`);
    }
    for (const name of [output.name, ...(this.manifest.regions ? [this.manifest.regions.output] : [])]) {
      if (!this.session.outputNames.includes(name)) {
        throw new StartupError('model_signature_mismatch', `model ${id}: no output "${name}" (it has ${this.session.outputNames.join(', ')})`);
      }
    }
  }

  /** One run on a blank image: pays the first-run cost now and checks the output size against the manifest. */
  private async warmUp(): Promise<void> {
    const [first] = await this.runRaw(new Float32Array(this.inputSize), 1, true);
    const length = first?.vector.length ?? 0;
    if (length !== this.dims) {
      throw new StartupError('model_dims_mismatch', `model ${this.id}: outputs ${length} values per image after pooling, the manifest says ${this.dims}`);
    }
  }

  /**
   * Embeds `count` preprocessed images laid out back to back in `batch`, in runs of at most maxBatch shared with
   * other callers' images (RunCoalescer), and returns one L2-normalised vector per image. A NaN, all-zero or
   * wrong-length vector is an error, never a stored vector.
   */
  async embed(batch: Float32Array, count: number): Promise<Float32Array[]> {
    return (await this.embedOutputs(batch, count)).map((output) => output.vector);
  }

  /**
   * As `embed`; `withMap`: each image's feature map too, when the model has `regions` (fetching it from the run costs
   * about 0.6 ms an image, so only the runs that hold an image asking for it do).
   */
  async embedOutputs(batch: Float32Array, count: number, withMap = false): Promise<ModelOutput[]> {
    const chunks: Array<Promise<ModelOutput[]>> = [];
    for (let start = 0; start < count; start += this.maxBatch) {
      const n = Math.min(this.maxBatch, count - start);
      chunks.push(this.runs.submit(batch.subarray(start * this.inputSize, (start + n) * this.inputSize), n, withMap));
    }
    const outputs: ModelOutput[] = [];
    for (const chunk of await Promise.all(chunks)) for (const output of chunk) outputs.push({ ...output, vector: normalise(output.vector, this.id, this.dims) });
    return outputs;
  }

  private async runRaw(data: Float32Array, n: number, withMap: boolean): Promise<ModelOutput[]> {
    const { input, output } = this.manifest;
    const regions = withMap ? this.manifest.regions : undefined;
    const shape = input.layout === 'NCHW' ? [n, 3, input.height, input.width] : [n, input.height, input.width, 3];
    const results = await this.session.run({ [input.name]: { data, dims: shape } }, [output.name, ...(regions ? [regions.output] : [])]);
    const tensor = results[output.name]!;
    const vectors = pool(tensor.data, tensor.dims, n, output.pooling, this.id);
    const maps = regions ? results[regions.output]! : undefined;
    if (!maps) return vectors.map((vector) => ({ vector }));
    if (maps.dims.length !== 4 || maps.dims[0] !== n) throw new AppError('embedding_invalid', `model ${this.id}: feature map [${maps.dims.join(',')}] is not [${n}, C, H, W]`, 500);
    const perImage = maps.data.length / n;
    const cells = maps.dims[2]! * maps.dims[3]!;
    return vectors.map((vector, i) => ({ vector, map: { features: maps.data.slice(i * perImage, (i + 1) * perImage), cells } }));
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** What `openSession` needs to know of a model's manifest. */
export interface SessionSource {
  id: string;
  /** Absolute path of the ONNX file. */
  modelPath: string;
  /** Pinned sha256 of the file, checked before the session is created. */
  sha256?: string | undefined;
  /** Set for built-in models: a missing file is then built by `npm run setup`. */
  build?: string | undefined;
  /** Intra-op threads for this model, overriding ONNX_INTRA_OP_THREADS. */
  threads?: number | undefined;
}

/**
 * Checks a model's file (present, pinned sha256) and creates its ONNX Runtime session with the configured threads and
 * execution provider (see createSession). Shared by every kind of model (embedding models, detectors).
 */
export async function openSession(source: SessionSource, onnx: Config['onnx'], logger: Logger): Promise<{ session: WorkerSession; provider: ExecutionProvider }> {
  // Read and checked now (a bad file stops the start-up), and again if the inference worker has to be started again.
  let checked: Uint8Array | null = readModel(source);
  // Models of the same bytes opened with the same options share one session (the embedding model and the localizer).
  const contentHash = source.sha256 ?? createHash('sha256').update(checked).digest('hex');
  const load = (): Uint8Array => {
    const bytes = checked ?? readModel(source);
    checked = null;
    return bytes;
  };
  const options = sessionOptions(source.threads ?? onnx.intraOpThreads, onnx.interOpThreads);
  return createSession(load, options, onnx.provider, source.id, logger, contentHash);
}

/** The session options of every model: threads (0: ONNX Runtime's default), no spinning, no memory pattern. */
export function sessionOptions(intraOp: number, interOp: number): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    // No memory pattern: it plans and keeps a block per input shape, and batches of every size up to the limit come
    // (concurrent searches, the regions of a photo); it held up to 50 MB more, for no speed (results/onnx-memory.md).
    enableMemPattern: false,
    ...(intraOp > 0 ? { intraOpNumThreads: intraOp } : {}),
    ...(interOp > 0 ? { interOpNumThreads: interOp } : {}),
    // Several sessions share the cores (models run side by side): idle threads sleep instead of spinning.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

/** A model file's bytes, present and matching its pinned sha256. */
function readModel(source: SessionSource): Uint8Array {
  if (!fs.existsSync(source.modelPath)) {
    const hint = source.build ? 'run `npm run setup` to build it' : 'see the model manifest';
    throw new StartupError('model_missing', `model ${source.id}: ${source.modelPath} does not exist (${hint})`);
  }
  const bytes = fs.readFileSync(source.modelPath);
  if (source.sha256) {
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== source.sha256) {
      throw new StartupError('model_checksum_mismatch', `model ${source.id}: ${source.modelPath} has sha256 ${actual}, the manifest pins ${source.sha256}`);
    }
  }
  return bytes;
}

/**
 * Whether onnxruntime-node's CUDA provider library is installed beside its binding (the CUDA build; see the README).
 * Checked first so that `auto` on a CPU-only install says one line, not ONNX Runtime's load error as well.
 */
export function cudaProviderInstalled(): boolean {
  try {
    const binding = path.join(path.dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
    return fs.existsSync(path.join(binding, 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}

async function createSession(
  load: ModelLoader,
  options: ort.InferenceSession.SessionOptions,
  wanted: Config['onnx']['provider'],
  id: string,
  logger: Logger,
  contentHash: string,
): Promise<{ session: WorkerSession; provider: ExecutionProvider }> {
  const open = (providerOptions: ort.InferenceSession.SessionOptions) => WorkerSession.create(load, providerOptions, id, `${contentHash} ${JSON.stringify(providerOptions)}`);
  if (wanted === 'auto' && !cudaProviderInstalled()) {
    logger.info({ model: id, provider: 'cpu' }, `model ${id}: execution provider cpu (the CUDA provider is not installed)`);
  } else if (wanted !== 'cpu') {
    try {
      const session = await open({ ...options, executionProviders: ['cuda'] });
      logger.info({ model: id, provider: 'cuda' }, `model ${id}: execution provider cuda`);
      return { session, provider: 'cuda' };
    } catch (error) {
      if (wanted === 'cuda') {
        throw new StartupError('cuda_unavailable', `model ${id}: the CUDA execution provider does not load (${(error as Error).message.split('\n')[0]}); see the README's GPU section`);
      }
      logger.info({ model: id, provider: 'cpu', reason: (error as Error).message.split('\n')[0] }, `model ${id}: execution provider cpu (CUDA not available)`);
    }
  } else {
    logger.info({ model: id, provider: 'cpu' }, `model ${id}: execution provider cpu`);
  }
  const session = await open({ ...options, executionProviders: ['cpu'] });
  return { session, provider: 'cpu' };
}

/** Reduces the model's output to one vector per image: as is ([N,D]), mean over maps/tokens, or the first token. */
export function pool(data: Float32Array, dims: readonly number[], n: number, pooling: 'none' | 'mean' | 'cls', id: string): Float32Array[] {
  if (dims[0] !== n) throw new AppError('embedding_invalid', `model ${id}: output batch ${dims[0]} ≠ input batch ${n}`, 500);
  const perItem = data.length / n;
  const vectors: Float32Array[] = [];
  if (pooling === 'none' || dims.length === 2) {
    for (let i = 0; i < n; i++) vectors.push(data.slice(i * perItem, (i + 1) * perItem));
    return vectors;
  }
  if (pooling === 'cls') {
    if (dims.length !== 3) throw new AppError('embedding_invalid', `model ${id}: cls pooling needs [N,T,D] output, got [${dims.join(',')}]`, 500);
    const d = dims[2]!;
    for (let i = 0; i < n; i++) vectors.push(data.slice(i * perItem, i * perItem + d));
    return vectors;
  }
  // mean: [N,C,H,W] feature maps → average over H·W; [N,T,D] tokens → average over T.
  const channelsFirst = dims.length === 4;
  const d = channelsFirst ? dims[1]! : dims[dims.length - 1]!;
  const positions = perItem / d;
  for (let i = 0; i < n; i++) {
    const vector = new Float32Array(d);
    const base = i * perItem;
    for (let c = 0; c < d; c++) {
      let sum = 0;
      for (let p = 0; p < positions; p++) sum += channelsFirst ? data[base + c * positions + p]! : data[base + p * d + c]!;
      vector[c] = sum / positions;
    }
    vectors.push(vector);
  }
  return vectors;
}

/** L2-normalises in place; throws on NaN/Inf, an all-zero vector or the wrong length. */
export function normalise(vector: Float32Array, id: string, dims: number): Float32Array {
  if (vector.length !== dims) throw new AppError('embedding_invalid', `model ${id}: vector has ${vector.length} values, expected ${dims}`, 500);
  let sum = 0;
  for (const value of vector) {
    if (!Number.isFinite(value)) throw new AppError('embedding_invalid', `model ${id}: the vector holds NaN or infinity`, 500);
    sum += value * value;
  }
  const norm = Math.sqrt(sum);
  if (norm < 1e-12) throw new AppError('embedding_invalid', `model ${id}: the vector is all zeros`, 500);
  for (let i = 0; i < vector.length; i++) vector[i]! /= norm;
  return vector;
}
