import type { Config } from '../config';
import { openSession, type ExecutionProvider } from '../embedding/onnx-model';
import type { WorkerSession } from '../embedding/worker-session';
import type { RgbImage } from '../image/decode';
import { resizeForModel, writeTensor } from '../image/preprocess';
import type { Logger } from '../logger';
import type { LocalizerManifest } from './manifest';
import { channelSums, type ActivationMap } from './regions';

/**
 * A photo's last convolutional feature map, from the localizer model (the embedding model's own backbone with a free
 * input size): where in the photo the network sees things. The whole photo is stretched so that its long side is the
 * manifest's input width (448 px for the built-in localizer: a 14-cell map; a 7-cell map at 224 px is too coarse),
 * each side rounded to a multiple of the stride so that each cell covers stride × stride input pixels.
 */
export interface FeatureMap {
  /** Cells across and down. */
  width: number;
  height: number;
  channels: number;
  /** The map, channels first: features[c · width · height + y · width + x]. */
  features: Float32Array;
  /** Σ over the channels per cell (SCDA's aggregation map). */
  sum: ActivationMap;
}

export class FeatureMapModel {
  private constructor(
    readonly manifest: LocalizerManifest,
    readonly provider: ExecutionProvider,
    private readonly session: WorkerSession,
  ) {}

  static async load(manifest: LocalizerManifest, onnx: Config['onnx'], logger: Logger): Promise<FeatureMapModel> {
    const { session, provider } = await openSession({ id: manifest.id, modelPath: manifest.modelPath, sha256: manifest.sha256, build: manifest.build, threads: manifest.threads }, onnx, logger);
    return new FeatureMapModel(manifest, provider, session);
  }

  /** The input size for an image: long side `longSide`, both sides multiples of the stride. */
  inputSize(width: number, height: number, longSide: number = this.manifest.input.width): { width: number; height: number } {
    const { stride } = this.manifest;
    const scale = longSide / Math.max(width, height);
    const round = (side: number): number => Math.max(stride, Math.round((side * scale) / stride) * stride);
    return { width: round(width), height: round(height) };
  }

  /** The map of the whole image at long side `longSide` (default the manifest's input width, 448 px). */
  async map(image: RgbImage, longSide: number = this.manifest.input.width): Promise<FeatureMap> {
    const size = this.inputSize(image.width, image.height, longSide);
    const spec = { ...this.manifest.input, ...size, resize: 'stretch' as const };
    const pixels = await resizeForModel(image, null, spec);
    const input = new Float32Array(3 * size.width * size.height);
    writeTensor(pixels, spec, input, 0);
    const results = await this.session.run({ [this.manifest.input.name]: { data: input, dims: [1, 3, size.height, size.width] } }, [this.manifest.output]);
    const tensor = results[this.manifest.output]!;
    const [, channels, height, width] = tensor.dims as [number, number, number, number];
    const features = tensor.data;
    return { width, height, channels, features, sum: { values: channelSums(features, channels, width * height), width, height } };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
