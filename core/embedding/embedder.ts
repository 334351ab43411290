import { performance } from 'node:perf_hooks';
import type { Config } from '../config';
import { AppError, ValidationError, describeError } from '../errors';
import type { Logger } from '../logger';
import { findCrop, scaleBox, type AutocropMode, type CropBox } from '../image/autocrop';
import { decodeImage, type DecodedImage, type DecodeLimits } from '../image/decode';
import { resizeForModel, writeTensor } from '../image/preprocess';
import { int8CopyOn, resolveManifests } from './manifest';
import { describeFeatureMap, type RegionDescriptor } from '../rerank/regions';
import { EmbeddingModel, type ModelOutput } from './onnx-model';

/**
 * The one embedding engine, used by the indexer and the API alike, so catalog and query images are prepared the same
 * way: decode once → crop once per autocrop mode → per model: preprocess into one batch tensor → one batched run.
 */

export interface EmbedOptions {
  /** Model ids to run; default all loaded models. */
  models?: string[];
  /** `auto`: each model's autocrop (or AUTOCROP); `trim`; `none`: the whole image. */
  crop?: 'auto' | 'trim' | 'none';
  /** Describe each photo's feature map (core/rerank/regions.ts) with the models that output one (`regions`). */
  regions?: boolean;
}

export interface ModelEmbedding {
  model: string;
  version: string;
  vector: Float32Array;
  /** The crop used, in the original image's pixels (after EXIF orientation); null for the whole image. */
  crop: CropBox | null;
  /** With `regions`, for a model that outputs a feature map: the photo described cell by cell. */
  regions?: RegionDescriptor;
}

export interface EmbeddedImage {
  contentHash: string;
  format: DecodedImage['format'];
  width: number;
  height: number;
  embeddings: ModelEmbedding[];
  /** Per image; batch stages are shared out evenly over the batch. */
  timings: { decode: number; crop: number; preprocess: number; embed: number; total: number };
}

export type EmbedOutcome = { ok: true; image: EmbeddedImage } | { ok: false; error: AppError };

const round = (ms: number): number => Math.round(ms * 100) / 100;

/** The coded errors of an image that fails a stage (an AppError already coded passes through). */
const decodeFailed = (error: unknown): AppError => (error instanceof AppError ? error : new AppError('corrupt_image', 'the image cannot be decoded', 422, { cause: error }));
const preprocessFailed = (error: unknown): AppError =>
  error instanceof AppError ? error : new AppError('preprocess_failed', `the image could not be prepared for the model: ${describeError(error)}`, 422, { cause: error });
const embeddingFailed = (model: EmbeddingModel, error: unknown): AppError => new AppError('embedding_failed', `model ${model.id} failed on this image: ${describeError(error)}`, 422, { cause: error });

/** One run of a model: the model's id, whether the model itself or its int8 copy ran, the images, the milliseconds. */
export interface ModelRun {
  model: string;
  variant: 'model' | 'int8';
  images: number;
  ms: number;
}

export class Embedder {
  private readonly byId: Map<string, EmbeddingModel>;
  private readonly quantizedById: Map<string, EmbeddingModel>;

  constructor(
    readonly models: EmbeddingModel[],
    private readonly image: Config['image'],
    /** The int8 copies loaded (manifest `quantized`), which `embedRegions` runs when asked `quantized`. */
    quantized: EmbeddingModel[] = [],
  ) {
    this.byId = new Map(models.map((model) => [model.id, model]));
    this.quantizedById = new Map(quantized.map((model) => [model.id, model]));
  }

  get(id: string): EmbeddingModel | undefined {
    return this.byId.get(id);
  }

  /**
   * Told every run of a model, or of its int8 copy: how many images it ran together (dynamic batching joins concurrent
   * searches' photos: core/embedding/run-coalescer.ts) and its milliseconds. One listener (the API's metrics).
   */
  onRun(listener: (run: ModelRun) => void): void {
    for (const model of this.models) model.onRun((images, ms) => listener({ model: model.id, variant: 'model', images, ms }));
    for (const copy of this.quantizedById.values()) copy.onRun((images, ms) => listener({ model: copy.id, variant: 'int8', images, ms }));
  }

  /** Whether the model's int8 copy is loaded (LOCALIZE_SCORER=int8 in the API, for a model whose manifest has one). */
  hasQuantized(id: string): boolean {
    return this.quantizedById.has(id);
  }

  private limits(): DecodeLimits {
    return { maxBytes: this.image.maxBytes, maxPixels: this.image.maxPixels, workingSize: this.image.workingSize };
  }

  private select(ids: string[] | undefined): EmbeddingModel[] {
    if (!ids) return this.models;
    return ids.map((id) => {
      const model = this.byId.get(id);
      if (!model) throw new ValidationError(`unknown model "${id}"; loaded: ${[...this.byId.keys()].join(', ')}`, { code: 'unknown_model' });
      return model;
    });
  }

  private cropMode(model: EmbeddingModel, options: EmbedOptions): AutocropMode {
    if (options.crop === 'none' || options.crop === 'trim') return options.crop;
    // `localize` needs the catalog (the search service runs it); a photo embedded on its own gets the model's crop.
    return this.image.autocrop === 'model' || this.image.autocrop === 'localize' ? model.manifest.autocrop : this.image.autocrop;
  }

  /** Embeds one image; throws its AppError when it is refused. */
  async embed(bytes: Buffer, options: EmbedOptions = {}): Promise<EmbeddedImage> {
    const [outcome] = await this.embedMany([bytes], options);
    if (!outcome!.ok) throw outcome!.error;
    return outcome!.image;
  }

  /** Embeds a batch; each image succeeds or fails on its own (a refused image never fails the others). */
  async embedMany(items: Buffer[], options: EmbedOptions = {}): Promise<EmbedOutcome[]> {
    const models = this.select(options.models);
    const started = performance.now();
    const decoded = await Promise.all(
      items.map(async (bytes) => {
        const t0 = performance.now();
        try {
          const image = await this.decode(bytes);
          const t1 = performance.now();
          const crops = new Map<AutocropMode, CropBox | null>();
          for (const model of models) {
            const mode = this.cropMode(model, options);
            if (!crops.has(mode)) crops.set(mode, await findCrop(image, mode));
          }
          return { ok: true as const, image, crops, decode: t1 - t0, crop: performance.now() - t1 };
        } catch (error) {
          return { ok: false as const, error: decodeFailed(error) };
        }
      }),
    );
    // Preprocessing for every model and image at once, each image written into its slot of every model's batch as
    // soon as it is resized (sharp runs on libuv's threads meanwhile). An image whose resizing or normalising throws
    // fails alone (`preprocess_failed`): its slot is left as it is, run with the others, and its output dropped.
    const good = decoded.flatMap((entry, position) => (entry.ok ? [{ ...entry, position }] : []));
    const failed = new Map<number, AppError>();
    const t0 = performance.now();
    const batches = models.map((model) => new Float32Array(good.length * model.inputSize));
    await Promise.all(
      good.map(async (entry, slot) => {
        try {
          await Promise.all(
            models.map(async (model, m) => {
              const pixels = await resizeForModel(entry.image, entry.crops.get(this.cropMode(model, options)) ?? null, model.manifest.input);
              writeTensor(pixels, model.manifest.input, batches[m]!, slot);
            }),
          );
        } catch (error) {
          failed.set(entry.position, preprocessFailed(error));
        }
      }),
    );
    const preprocessMs = performance.now() - t0;
    const embeddings = new Map<number, ModelEmbedding[]>(good.map((entry) => [entry.position, []]));
    let embedMs = 0;
    if (good.length > failed.size) {
      // Every model's batch at once (each ONNX Runtime session on its own threads): both stages use all cores.
      const t1 = performance.now();
      const positions = good.map((entry) => entry.position);
      const outputsPerModel = await Promise.all(models.map((model, m) => this.runIsolated(model, batches[m]!, positions, failed, options.regions ?? false)));
      embedMs = performance.now() - t1;
      models.forEach((model, m) => {
        const mode = this.cropMode(model, options);
        good.forEach((entry, slot) => {
          const output = outputsPerModel[m]![slot];
          if (!output || failed.has(entry.position)) return;
          const crop = entry.crops.get(mode) ?? null;
          const original = { width: entry.image.originalWidth, height: entry.image.originalHeight };
          const regions = output.map ? { regions: describeFeatureMap(output.map) } : {};
          embeddings.get(entry.position)!.push({ model: model.id, version: model.version, vector: output.vector, crop: crop ? scaleBox(crop, entry.image, original) : null, ...regions });
        });
      });
    }
    const total = performance.now() - started;
    const share = Math.max(1, good.length - failed.size);
    return decoded.map((entry, position): EmbedOutcome => {
      if (!entry.ok) return entry;
      const error = failed.get(position);
      if (error) return { ok: false, error };
      return {
        ok: true,
        image: {
          contentHash: entry.image.contentHash,
          format: entry.image.format,
          width: entry.image.originalWidth,
          height: entry.image.originalHeight,
          embeddings: embeddings.get(position)!,
          timings: {
            decode: round(entry.decode),
            crop: round(entry.crop),
            preprocess: round(preprocessMs / share),
            embed: round(embedMs / share),
            total: round(total / share),
          },
        },
      };
    });
  }

  /** Decodes an image within the configured limits (a refused image is its coded AppError). */
  async decode(bytes: Buffer): Promise<DecodedImage> {
    try {
      return await decodeImage(bytes, this.limits());
    } catch (error) {
      throw decodeFailed(error);
    }
  }

  /**
   * Embeds several regions of one decoded image (boxes in its working pixels; null for the whole image) with each
   * model, all regions of a model in one batched run: what localization embeds its candidate regions with. Returns,
   * per region, one vector per model id. With `onMap`, the models that output a feature map give each region's too,
   * to describe those it keeps (describing costs about 1.5 ms a region). With `quantized`, a model whose int8 copy is
   * loaded runs the copy: vectors that approximate the model's, to rank regions by, never to store.
   */
  async embedRegions(
    image: DecodedImage,
    boxes: Array<CropBox | null>,
    options: Pick<EmbedOptions, 'models'> & { quantized?: boolean; onMap?: (slot: number, model: string, map: NonNullable<ModelOutput['map']>) => void } = {},
  ): Promise<Array<Record<string, Float32Array>>> {
    const models = this.select(options.models).map((model) => (options.quantized ? (this.quantizedById.get(model.id) ?? model) : model));
    const out = boxes.map(() => ({}) as Record<string, Float32Array>);
    await Promise.all(
      models.map(async (model) => {
        const batch = new Float32Array(boxes.length * model.inputSize);
        try {
          await Promise.all(boxes.map(async (box, slot) => writeTensor(await resizeForModel(image, box, model.manifest.input), model.manifest.input, batch, slot)));
        } catch (error) {
          throw preprocessFailed(error);
        }
        let outputs: ModelOutput[];
        try {
          outputs = await model.embedOutputs(batch, boxes.length, options.onMap !== undefined);
        } catch (error) {
          throw embeddingFailed(model, error);
        }
        outputs.forEach((output, slot) => {
          out[slot]![model.id] = output.vector;
          if (output.map) options.onMap?.(slot, model.id, output.map);
        });
      }),
    );
    return out;
  }

  /**
   * One batched run; when the batch run throws, each image runs alone, so a failure is pinned on the image that
   * causes it (`embedding_failed`) and the others still get their vectors. Returns one output (or undefined) per slot.
   */
  private async runIsolated(model: EmbeddingModel, batch: Float32Array, positions: number[], failed: Map<number, AppError>, withMap: boolean): Promise<Array<ModelOutput | undefined>> {
    try {
      return await model.embedOutputs(batch, positions.length, withMap);
    } catch (batchError) {
      if (positions.length === 1) {
        failed.set(positions[0]!, embeddingFailed(model, batchError));
        return [undefined];
      }
      const size = model.inputSize;
      const outputs: Array<ModelOutput | undefined> = [];
      for (let slot = 0; slot < positions.length; slot++) {
        // An image that already failed (its preprocessing) is not run again.
        const [output] = failed.has(positions[slot]!) ? [undefined] : await this.runIsolated(model, batch.slice(slot * size, (slot + 1) * size), [positions[slot]!], failed, withMap);
        outputs.push(output);
      }
      return outputs;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.models, ...this.quantizedById.values()].map((model) => model.close()));
  }
}

/**
 * What the search API loads beside its models (`createEmbedder`'s options): each model's int8 copy when the copies rank
 * localization candidates (LOCALIZE_SCORER=int8). The one place that decides it; the indexer loads no copy.
 */
export function searchEmbedderOptions(config: Pick<Config, 'image'>): { quantized: boolean } {
  return { quantized: config.image.localizeScorer === 'int8' };
}

/**
 * Loads the configured models (or `ids`), each once, and returns the engine. `quantized`: also each model's int8 copy
 * where its manifest has one (the API, to rank localization candidates with: `searchEmbedderOptions`).
 */
export async function createEmbedder(config: Config, logger: Logger, ids: string[] = config.models.ids, options: { quantized?: boolean } = {}): Promise<Embedder> {
  const manifests = resolveManifests(ids, config.models.dir);
  const log = logger.child({ component: 'embedding' });
  const models: EmbeddingModel[] = [];
  const quantized: EmbeddingModel[] = [];
  for (const manifest of manifests) {
    const model = await EmbeddingModel.load(manifest, config.onnx, log);
    models.push(model);
    const copy = options.quantized ? int8CopyOn(manifest, model.provider) : undefined;
    if (copy) quantized.push(await EmbeddingModel.load(copy, config.onnx, log));
  }
  return new Embedder(models, config.image, quantized);
}
