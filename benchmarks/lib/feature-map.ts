import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import type { RgbImage } from '../../core/image/decode';
import type { ActivationMap } from '../../core/localization/regions';

/**
 * The embedding model's last convolutional feature map, from a research copy of the built-in EfficientNet-Lite0
 * that takes any input size and outputs the map (models/add_feature_map_output.py builds it beside the pinned model,
 * which stays untouched).
 */
const ROOT = path.resolve(__dirname, '..', '..');
const BUILT_IN = path.join(ROOT, '.cache', 'models', 'efficientnet-lite0.onnx');
export const FEATURE_MAP_MODEL = path.join(ROOT, '.cache', 'models', 'efficientnet-lite0-feature-map.onnx');

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
  /** Model input size the maps came from, px. */
  inputWidth: number;
  inputHeight: number;
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

export class FeatureMapModel {
  private constructor(private readonly session: ort.InferenceSession) {}

  /** Loads the research model, building it first when it is missing. */
  static async load(threads = 2): Promise<FeatureMapModel> {
    if (!fs.existsSync(FEATURE_MAP_MODEL)) {
      execFileSync(path.join(ROOT, '.cache', 'venv', 'bin', 'python'), [path.join(ROOT, 'models', 'add_feature_map_output.py'), BUILT_IN, FEATURE_MAP_MODEL], { stdio: 'inherit' });
    }
    const session = await ort.InferenceSession.create(FEATURE_MAP_MODEL, {
      graphOptimizationLevel: 'all',
      intraOpNumThreads: threads,
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    return new FeatureMapModel(session);
  }

  /**
   * The feature maps of the whole image scaled so that its long side is `size` px (both sides rounded to a multiple
   * of 32, so each cell covers 32 × 32 input px), with the built-in model's normalisation ((x − 127) / 128).
   */
  async activation(image: RgbImage, size: number): Promise<{ maps: FeatureMaps; preprocessMs: number; inferenceMs: number; statisticsMs: number }> {
    const t0 = performance.now();
    const scale = size / Math.max(image.width, image.height);
    const width = Math.max(32, Math.round((image.width * scale) / 32) * 32);
    const height = Math.max(32, Math.round((image.height * scale) / 32) * 32);
    const pixels = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).resize(width, height, { fit: 'fill' }).raw().toBuffer();
    const plane = width * height;
    const input = new Float32Array(3 * plane);
    for (let c = 0; c < 3; c++) for (let i = 0; i < plane; i++) input[c * plane + i] = (pixels[i * 3 + c]! - 127) / 128;
    const t1 = performance.now();
    const results = await this.session.run({ image: new ort.Tensor('float32', input, [1, 3, height, width]) }, ['feature_map']);
    const tensor = results.feature_map!;
    const [, channels, mapHeight, mapWidth] = tensor.dims as [number, number, number, number];
    const features = Float32Array.from(tensor.data as Float32Array);
    tensor.dispose?.();
    const t2 = performance.now();
    const statistics = statisticsOf(features, channels, mapHeight * mapWidth);
    const t3 = performance.now();
    return {
      maps: { width: mapWidth, height: mapHeight, channels, inputWidth: width, inputHeight: height, statistics, features },
      preprocessMs: t1 - t0,
      inferenceMs: t2 - t1,
      statisticsMs: t3 - t2,
    };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
