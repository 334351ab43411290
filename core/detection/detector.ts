import { z } from 'zod';
import type { Config } from '../config';
import { batchLimit, openSession, type ExecutionProvider } from '../embedding/onnx-model';
import type { WorkerSession } from '../embedding/worker-session';
import { AppError, StartupError, ValidationError, describeIssues } from '../errors';
import type { RgbImage } from '../image/decode';
import { resizeForModel, writeTensor } from '../image/preprocess';
import type { Logger } from '../logger';
import { ANCHOR_STRIDE, generateAnchors } from './anchors';
import { findCandidates, toPixelBox, type PixelBox } from './decode';
import type { DetectorManifest } from './manifest';
import { nonMaxSuppression } from './nms';

/** One detected object, in the pixels of the image given to the detector. */
export interface Detection extends PixelBox {
  /** Class name from the manifest's labels (Open Images names for the built-in detector: "Footwear", "Mug", …). */
  label: string;
  /** Sigmoid score, 0..1. */
  score: number;
}

/** Post-processing options, validated once (a bad value is a 400 `invalid_detection_options`). */
export const detectionOptionsSchema = z
  .object({
    /** Lowest score reported. Default 0.3: the built-in detector scored clear objects 0.5–0.85 in our tests. */
    scoreThreshold: z.number().min(0).max(1).default(0.3),
    /** Most boxes reported per image. Default 10. */
    maxDetections: z.number().int().min(1).max(100).default(10),
    /** A box overlapping a better one by more than this IoU is dropped. Default 0.5. */
    iouThreshold: z.number().min(0).max(1).default(0.5),
    /**
     * Suppress overlapping boxes whatever their class (default true). The built-in classes overlap (Footwear and Boot,
     * Mug and Coffee cup, Table and Desk, Vehicle and Car): per-class suppression reports one object two or three
     * times, once per label, where a search wants one box per object, labelled with its best class.
     */
    classAgnostic: z.boolean().default(true),
  })
  .strict();

export type DetectionOptions = z.infer<typeof detectionOptionsSchema>;
export const DEFAULT_DETECTION_OPTIONS: DetectionOptions = detectionOptionsSchema.parse({});

/** Options with their defaults filled in; a ValidationError listing every bad one. */
export function resolveDetectionOptions(options: Partial<DetectionOptions> = {}): DetectionOptions {
  const parsed = detectionOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ValidationError(`invalid detection options: ${describeIssues(parsed.error.issues).join('; ')}`, { code: 'invalid_detection_options' });
  }
  return parsed.data;
}

/** The detector's raw outputs for a batch: per image, box encodings [anchors·4] and class logits [anchors·labels]. */
export interface RawDetections {
  encodings: Float32Array[];
  logits: Float32Array[];
}

/**
 * An SSD detector (the built-in one: SSD-MobileNetV2, Open Images V4, 23 classes) with one ONNX Runtime session,
 * created once with the embedding models' provider logic. It takes decoded RGB images of any size (each stretched to
 * the model's input, as the model was trained), runs them in batches of at most maxBatch, and returns boxes in each
 * image's pixels.
 */
export class Detector {
  private constructor(
    readonly manifest: DetectorManifest,
    readonly provider: ExecutionProvider,
    private readonly session: WorkerSession,
    readonly maxBatch: number,
    /** Packed (y centre, x centre, height, width) per anchor, in the order of the model's outputs. */
    readonly anchors: Float64Array,
  ) {}

  get id(): string {
    return this.manifest.id;
  }

  get labels(): readonly string[] {
    return this.manifest.labels;
  }

  /** Floats per image in the input tensor. */
  get inputSize(): number {
    return 3 * this.manifest.input.width * this.manifest.input.height;
  }

  /** Opens the session (file and checksum checked), checks input and output names, and warms up on a blank image. */
  static async load(manifest: DetectorManifest, onnx: Config['onnx'], logger: Logger): Promise<Detector> {
    const { session, provider } = await openSession(manifest, onnx, logger);
    const detector = new Detector(manifest, provider, session, batchLimit(onnx.maxBatch, provider, manifest.maxBatch), generateAnchors(manifest.anchors));
    const names = [manifest.output.boxes, manifest.output.logits];
    if (!session.inputNames.includes(manifest.input.name) || !names.every((name) => session.outputNames.includes(name))) {
      await session.release();
      throw new StartupError('model_signature_mismatch', `detector ${manifest.id}: expected input ${manifest.input.name} and outputs ${names.join(', ')}, the model has ${session.inputNames.join(', ')} → ${session.outputNames.join(', ')}`);
    }
    try {
      // The first run pays the session's set-up cost, and checks the outputs against the anchors and labels.
      await detector.run(new Float32Array(detector.inputSize), 1);
    } catch (error) {
      await session.release();
      throw new StartupError('model_signature_mismatch', (error as Error).message, error);
    }
    return detector;
  }

  /** Detects objects in one image. */
  async detect(image: RgbImage, options: Partial<DetectionOptions> = {}): Promise<Detection[]> {
    return (await this.detectMany([image], options))[0]!;
  }

  /** Detects objects in each image (in batches of at most maxBatch); per image, the boxes by descending score. */
  async detectMany(images: readonly RgbImage[], options: Partial<DetectionOptions> = {}): Promise<Detection[][]> {
    const settings = resolveDetectionOptions(options);
    const raw = await this.infer(images);
    return images.map((image, i) => this.postprocess(raw.encodings[i]!, raw.logits[i]!, image, settings));
  }

  /** The model's raw outputs for each image, before decoding: what detectMany decodes (exposed for measurements). */
  async infer(images: readonly RgbImage[]): Promise<RawDetections> {
    const raw: RawDetections = { encodings: [], logits: [] };
    const { input } = this.manifest;
    for (let start = 0; start < images.length; start += this.maxBatch) {
      const batch = images.slice(start, start + this.maxBatch);
      const tensor = new Float32Array(batch.length * this.inputSize);
      await Promise.all(batch.map(async (image, slot) => writeTensor(await resizeForModel(image, null, input), input, tensor, slot)));
      const outputs = await this.run(tensor, batch.length);
      raw.encodings.push(...outputs.encodings);
      raw.logits.push(...outputs.logits);
    }
    return raw;
  }

  /** Decodes one image's raw outputs into boxes in its pixels: threshold, suppression, then clipping and rounding. */
  postprocess(encodings: Float32Array, logits: Float32Array, image: { width: number; height: number }, options: Partial<DetectionOptions> = {}): Detection[] {
    const settings = resolveDetectionOptions(options);
    const candidates = findCandidates(encodings, logits, this.anchors, this.labels.length, this.manifest.boxCoder, settings);
    return nonMaxSuppression(candidates, settings).map(({ box, classIndex, score }) => ({ ...toPixelBox(box, image), label: this.labels[classIndex]!, score }));
  }

  /**
   * Runs the model once on `n` preprocessed images laid out back to back in `data` (the manifest's input layout and
   * normalisation, as infer writes them), whatever n; checks the outputs' shapes against the anchors and labels.
   */
  async run(data: Float32Array, n: number): Promise<RawDetections> {
    const { input, output, id } = this.manifest;
    const shape = input.layout === 'NCHW' ? [n, 3, input.height, input.width] : [n, input.height, input.width, 3];
    const results = await this.session.run({ [input.name]: { data, dims: shape } }, [output.boxes, output.logits]);
    const boxes = results[output.boxes]!;
    const logits = results[output.logits]!;
    const anchors = this.anchors.length / ANCHOR_STRIDE;
    const expected = [[n, anchors, 4], [n, anchors, this.labels.length]];
    if (JSON.stringify([boxes.dims, logits.dims]) !== JSON.stringify(expected)) {
      throw new AppError('detector_output_mismatch', `detector ${id}: outputs [${boxes.dims.join(',')}] and [${logits.dims.join(',')}], expected [${expected[0]!.join(',')}] and [${expected[1]!.join(',')}] (the manifest's anchors and labels)`, 500);
    }
    const boxData = boxes.data;
    const logitData = logits.data;
    const perBoxes = anchors * 4;
    const perLogits = anchors * this.labels.length;
    return {
      encodings: Array.from({ length: n }, (_, i) => boxData.slice(i * perBoxes, (i + 1) * perBoxes)),
      logits: Array.from({ length: n }, (_, i) => logitData.slice(i * perLogits, (i + 1) * perLogits)),
    };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
