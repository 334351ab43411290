import { performance } from 'node:perf_hooks';
import type { Config } from '../../core/config';
import type { Logger } from '../../core/logger';
import { FeatureMapModel as CoreFeatureMapModel } from '../../core/localization/feature-map';
import { readLocalizerManifest } from '../../core/localization/manifest';
import type { RgbImage } from '../../core/image/decode';
import type { ActivationMap } from '../../core/localization/regions';

/**
 * Per-cell saliency statistics of a feature map F (C channels × cells):
 * - `sum`: Σ_c F (SCDA's aggregation map);
 * - `contrast`: 1 − cos(F_cell, mean of F over the cells): how unlike the rest of the photo a cell is (the background
 *   fills most of a scene photo, so the mean feature is mostly background);
 * - `crow`: Σ_c w_c F with CroW's channel weights (Kalantidis et al. 2016), w_c = log(Σ_k Q_k / Q_c), Q_c the share
 *   of cells where channel c fires: channels that fire everywhere (texture, background) count less;
 * - `sumcontrast`: sum × contrast.
 */
export const STATISTICS = ['sum', 'contrast', 'crow', 'sumcontrast'] as const;
export type Statistic = (typeof STATISTICS)[number];

/** One statistic of the map: one value per cell (core/localization/regions.ts). */
export type { ActivationMap };

export interface FeatureMaps {
  width: number;
  height: number;
  channels: number;
  statistics: Record<Statistic, Float32Array>;
  /** The feature map itself, channels first (kept for pooling regions). */
  features: Float32Array;
}

/** The statistic `name` of `maps` as an activation map. */
export const statistic = (maps: FeatureMaps, name: Statistic): ActivationMap => ({ values: maps.statistics[name], width: maps.width, height: maps.height });

function statisticsOf(data: Float32Array, channels: number, cells: number): Record<Statistic, Float32Array> {
  const sum = new Float32Array(cells);
  const mean = new Float32Array(channels);
  const firing = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const base = c * cells;
    for (let i = 0; i < cells; i++) {
      const v = data[base + i]!;
      sum[i]! += v;
      mean[c]! += v / cells;
      if (v > 0) firing[c]! += 1 / cells;
    }
  }
  const firingTotal = firing.reduce((a, b) => a + b, 0);
  const weights = firing.map((q) => Math.log((firingTotal + 1e-6) / (q + 1e-6)));
  let meanNorm = 0;
  for (const v of mean) meanNorm += v * v;
  meanNorm = Math.sqrt(meanNorm) || 1;
  const dot = new Float32Array(cells);
  const norm = new Float32Array(cells);
  const crow = new Float32Array(cells);
  for (let c = 0; c < channels; c++) {
    const base = c * cells;
    for (let i = 0; i < cells; i++) {
      const v = data[base + i]!;
      dot[i]! += v * mean[c]!;
      norm[i]! += v * v;
      crow[i]! += weights[c]! * v;
    }
  }
  const contrast = dot.map((d, i) => 1 - d / (meanNorm * (Math.sqrt(norm[i]!) || 1)));
  const sumcontrast = sum.map((v, i) => v * contrast[i]!);
  return { sum, contrast, crow, sumcontrast };
}

/**
 * The harness's view of the service's localizer model (core/localization/feature-map.ts: the same model, input size
 * rounding and normalisation), at any long side, with the four statistics.
 */
export class FeatureMapModel {
  private constructor(private readonly model: CoreFeatureMapModel) {}

  static async load(onnx: Config['onnx'], logger: Logger): Promise<FeatureMapModel> {
    return new FeatureMapModel(await CoreFeatureMapModel.load(readLocalizerManifest(), onnx, logger));
  }

  /** The feature maps of the whole image scaled so that its long side is `size` px (sides multiples of 32). */
  async activation(image: RgbImage, size: number): Promise<{ maps: FeatureMaps; mapMs: number; statisticsMs: number }> {
    const t0 = performance.now();
    const { width, height, channels, features } = await this.model.map(image, size);
    const t1 = performance.now();
    const statistics = statisticsOf(features, channels, width * height);
    return { maps: { width, height, channels, statistics, features }, mapMs: t1 - t0, statisticsMs: performance.now() - t1 };
  }

  async close(): Promise<void> {
    await this.model.close();
  }
}
