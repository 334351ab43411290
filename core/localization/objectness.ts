import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { BUILTIN_MODEL_DIR, readManifestFile } from '../embedding/manifest';
import { StartupError } from '../errors';
import type { CropBox } from '../image/autocrop';
import type { FeatureMap } from './feature-map';
import { iou } from './regions';

/**
 * A learned, class-agnostic objectness head on the localizer's feature map (CenterNet-like, Zhou et al. 2019): per
 * map cell, how likely an object's centre lies there (a heatmap) and that object's box (centre offset, size). It
 * proposes a few tight boxes around whatever things a photo holds, where the channel sum (SCDA) lights up textured
 * backgrounds as much as objects. Trained by models/train_objectness_head.py on synthetic scenes disjoint from the
 * dev sets (benchmarks/objectness-training-set.ts); the weights are committed, checksum-pinned by their manifest.
 *
 * The network is small enough to run as plain matrix products here (about 8 M multiply-adds for a 14 × 14 map):
 *   z = P·(f / inputScale) + p;  c = mean of z over the 3 × 3 cells around;  g = mean of z over the map;
 *   h = relu(W1·[z, c, g] + b1);  o = W2·h + b2 = [heat logit, dx, dy, log w, log h] (cells).
 */
export const objectnessManifestSchema = z
  .object({
    id: z.string().min(1),
    version: z.string().min(1),
    description: z.string().optional(),
    /** The weights: little-endian float32 P, p, W1, b1, W2, b2, row-major (input × output). */
    file: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    /** Feature-map channels the head reads (the localizer's). */
    channels: z.number().int().min(1),
    hidden: z.number().int().min(1),
    /** The map's values are divided by this first (the map comes out of a ReLU6). */
    inputScale: z.number().positive(),
    /** How the weights were produced. */
    trainedBy: z.string().optional(),
  })
  .strict();

export type ObjectnessManifest = z.infer<typeof objectnessManifestSchema>;

export const BUILTIN_OBJECTNESS_FILE = path.join(BUILTIN_MODEL_DIR, 'objectness', 'objectness-head.json');

/** The head's parameters, row-major with the input index first (w[i · out + o]). */
export interface ObjectnessWeights {
  channels: number;
  hidden: number;
  inputScale: number;
  project: Float32Array;
  projectBias: Float32Array;
  mix: Float32Array;
  mixBias: Float32Array;
  out: Float32Array;
  outBias: Float32Array;
}

/** Splits a flat parameter vector into the head's layers (sizes from `channels` and `hidden`). */
export function splitWeights(values: Float32Array, channels: number, hidden: number, inputScale: number): ObjectnessWeights {
  const sizes = [channels * hidden, hidden, 3 * hidden * hidden, hidden, hidden * 5, 5];
  const expected = sizes.reduce((a, b) => a + b, 0);
  if (values.length !== expected) throw new Error(`objectness weights: ${values.length} values, expected ${expected}`);
  let at = 0;
  const [project, projectBias, mix, mixBias, out, outBias] = sizes.map((n) => values.subarray(at, (at += n)));
  return { channels, hidden, inputScale, project: project!, projectBias: projectBias!, mix: mix!, mixBias: mixBias!, out: out!, outBias: outBias! };
}

/** Reads the head's manifest and weights, checking the weights' pinned sha256. */
export function loadObjectnessHead(file: string = BUILTIN_OBJECTNESS_FILE): ObjectnessWeights {
  const manifest = readManifestFile(file, objectnessManifestSchema, 'localizer');
  const weightsPath = manifest.modelPath;
  if (!fs.existsSync(weightsPath)) throw new StartupError('model_missing', `objectness head ${manifest.id}: ${weightsPath} does not exist`);
  const bytes = fs.readFileSync(weightsPath);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== manifest.sha256) {
    throw new StartupError('model_checksum_mismatch', `objectness head ${manifest.id}: ${weightsPath} has sha256 ${actual}, the manifest pins ${manifest.sha256}`);
  }
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return splitWeights(values, manifest.channels, manifest.hidden, manifest.inputScale);
}

/** The head's five outputs per cell (cell-major: o[cell · 5 + k]) for a channels-first feature map. */
export function objectnessOutputs(weights: ObjectnessWeights, map: Pick<FeatureMap, 'width' | 'height' | 'channels' | 'features'>): Float32Array {
  const { hidden, channels } = weights;
  if (map.channels !== channels) throw new Error(`objectness head reads ${channels} channels, the map has ${map.channels}`);
  const cells = map.width * map.height;
  const z = new Float32Array(cells * hidden);
  for (let cell = 0; cell < cells; cell++) z.set(weights.projectBias, cell * hidden);
  const scale = 1 / weights.inputScale;
  for (let c = 0; c < channels; c++) {
    const row = weights.project.subarray(c * hidden, (c + 1) * hidden);
    const base = c * cells;
    for (let cell = 0; cell < cells; cell++) {
      const f = map.features[base + cell]! * scale;
      if (f === 0) continue; // a ReLU map is mostly zeros
      const at = cell * hidden;
      for (let k = 0; k < hidden; k++) z[at + k]! += f * row[k]!;
    }
  }
  const global = new Float32Array(hidden);
  for (let cell = 0; cell < cells; cell++) for (let k = 0; k < hidden; k++) global[k]! += z[cell * hidden + k]! / cells;
  const outputs = new Float32Array(cells * 5);
  const input = new Float32Array(3 * hidden);
  const h = new Float32Array(hidden);
  for (let y = 0; y < map.height; y++) {
    for (let x = 0; x < map.width; x++) {
      const cell = y * map.width + x;
      input.fill(0);
      let count = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= map.width || ny >= map.height) continue;
          count++;
          for (let k = 0; k < hidden; k++) input[hidden + k]! += z[(ny * map.width + nx) * hidden + k]!;
        }
      }
      for (let k = 0; k < hidden; k++) {
        input[k] = z[cell * hidden + k]!;
        input[hidden + k]! /= count;
        input[2 * hidden + k] = global[k]!;
      }
      h.set(weights.mixBias);
      for (let i = 0; i < 3 * hidden; i++) {
        const v = input[i]!;
        for (let k = 0; k < hidden; k++) h[k]! += v * weights.mix[i * hidden + k]!;
      }
      for (let o = 0; o < 5; o++) {
        let s = weights.outBias[o]!;
        for (let k = 0; k < hidden; k++) if (h[k]! > 0) s += h[k]! * weights.out[k * 5 + o]!;
        outputs[cell * 5 + o] = s;
      }
    }
  }
  return outputs;
}

export interface ObjectnessBox {
  box: CropBox;
  /** The heat at the box's centre cell (sigmoid), 0–1. */
  score: number;
}

export interface DecodeOptions {
  /** Most boxes returned. */
  maxBoxes: number;
  /** Lowest heat for a peak to become a box. */
  minScore: number;
  /** Margin added around each box, as a share of its size. */
  padding: number;
  /** A box overlapping a kept one by more than this IoU is dropped. */
  iouThreshold: number;
  /** Each peak's box at these multiples of the predicted size (default [1]): the predicted size is rough. */
  scales?: number[];
}

/**
 * Boxes from the head's outputs, in the pixels of an image of `size` (the map covers the whole image, stretched):
 * each local maximum of the heat (≥ its 8 neighbours), strongest first, as a box of the predicted size around the
 * predicted centre, padded, clipped to the image; boxes overlapping a stronger one by more than `iouThreshold` dropped.
 */
export function decodeObjectness(outputs: Float32Array, mapWidth: number, mapHeight: number, size: { width: number; height: number }, options: DecodeOptions): ObjectnessBox[] {
  const heat = (x: number, y: number): number => outputs[(y * mapWidth + x) * 5]!;
  const peaks: Array<{ x: number; y: number; logit: number }> = [];
  for (let y = 0; y < mapHeight; y++) {
    for (let x = 0; x < mapWidth; x++) {
      const logit = heat(x, y);
      let peak = true;
      for (let dy = -1; dy <= 1 && peak; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if ((dx || dy) && nx >= 0 && ny >= 0 && nx < mapWidth && ny < mapHeight && heat(nx, ny) > logit) {
            peak = false;
            break;
          }
        }
      }
      if (peak) peaks.push({ x, y, logit });
    }
  }
  peaks.sort((a, b) => b.logit - a.logit || a.y - b.y || a.x - b.x);
  const cellWidth = size.width / mapWidth;
  const cellHeight = size.height / mapHeight;
  const kept: ObjectnessBox[] = [];
  for (const { x, y, logit } of peaks) {
    if (kept.length >= options.maxBoxes) break;
    const score = 1 / (1 + Math.exp(-logit));
    if (score < options.minScore) break;
    const at = (y * mapWidth + x) * 5;
    const centreX = (x + 0.5 + outputs[at + 1]!) * cellWidth;
    const centreY = (y + 0.5 + outputs[at + 2]!) * cellHeight;
    for (const scale of options.scales ?? [1]) {
      if (kept.length >= options.maxBoxes) break;
      const width = Math.exp(outputs[at + 3]!) * cellWidth * (1 + options.padding) * scale;
      const height = Math.exp(outputs[at + 4]!) * cellHeight * (1 + options.padding) * scale;
      const left = Math.max(0, Math.round(centreX - width / 2));
      const top = Math.max(0, Math.round(centreY - height / 2));
      const right = Math.min(size.width, Math.round(centreX + width / 2));
      const bottom = Math.min(size.height, Math.round(centreY + height / 2));
      if (right - left < 8 || bottom - top < 8) continue;
      const box = { left, top, width: right - left, height: bottom - top };
      if (kept.some((k) => iou(k.box, box) > options.iouThreshold)) continue;
      kept.push({ box, score });
    }
  }
  return kept;
}
