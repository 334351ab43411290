import type { CropBox } from '../image/autocrop';

/**
 * Candidate object boxes for a photo: SCDA-style feature-map localisation (Wei et al. 2017, "Selective Convolutional
 * Descriptor Aggregation": sum the last convolutional map over channels, keep the cells above the mean, take the
 * largest connected region) and a multi-scale grid. Pure functions on arrays; boxes in the image's pixels. Used by the
 * service's localizer (localizer.ts) and the research harness (benchmarks/localization.ts).
 */

/** One value per cell of a feature map, row-major, `height` × `width` cells. */
export interface ActivationMap {
  values: Float32Array;
  width: number;
  height: number;
}

export interface ScdaOptions {
  /** Keep cells whose activation is above `threshold` × the map's mean (SCDA: 1). */
  threshold: number;
  /** Bilinear upsampling of the map before thresholding (1: whole cells). */
  upsample: number;
  /** Margin added on each side, as a share of the box's size. */
  padding: number;
}

export interface Region {
  box: CropBox;
  /** Cells of the component, as a share of the map. */
  area: number;
  /** Sum of the activations in the component, as a share of the map's total. */
  mass: number;
}

function upsample(map: ActivationMap, factor: number): { values: Float32Array; width: number; height: number } {
  if (factor === 1) return map;
  const width = map.width * factor;
  const height = map.height * factor;
  const values = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(map.height - 1, Math.max(0, (y + 0.5) / factor - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(map.height - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < width; x++) {
      const sx = Math.min(map.width - 1, Math.max(0, (x + 0.5) / factor - 0.5));
      const x0 = Math.floor(sx);
      const x1 = Math.min(map.width - 1, x0 + 1);
      const fx = sx - x0;
      const top = map.values[y0 * map.width + x0]! * (1 - fx) + map.values[y0 * map.width + x1]! * fx;
      const bottom = map.values[y1 * map.width + x0]! * (1 - fx) + map.values[y1 * map.width + x1]! * fx;
      values[y * width + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return { values, width, height };
}

/** Grows `box` by `padding` × its size on each side, inside `width` × `height`. */
export function padBox(box: CropBox, padding: number, width: number, height: number): CropBox {
  const dx = Math.round(box.width * padding);
  const dy = Math.round(box.height * padding);
  const left = Math.max(0, box.left - dx);
  const top = Math.max(0, box.top - dy);
  return { left, top, width: Math.min(width, box.left + box.width + dx) - left, height: Math.min(height, box.top + box.height + dy) - top };
}

/**
 * The connected regions (8-neighbours) of the map above the threshold, strongest first (by activation mass), each
 * with its box in the pixels of the `imageWidth` × `imageHeight` image the map was computed from.
 */
export function scdaRegions(map: ActivationMap, imageWidth: number, imageHeight: number, options: ScdaOptions): Region[] {
  const grid = upsample(map, options.upsample);
  const { values, width, height } = grid;
  let total = 0;
  for (const v of values) total += v;
  const cut = (options.threshold * total) / values.length;
  const label = new Int32Array(values.length).fill(-1);
  const regions: Region[] = [];
  const stack: number[] = [];
  for (let start = 0; start < values.length; start++) {
    if (label[start] !== -1 || values[start]! <= cut) continue;
    let [left, top, right, bottom, cells, mass] = [width, height, -1, -1, 0, 0];
    label[start] = regions.length;
    stack.push(start);
    while (stack.length > 0) {
      const p = stack.pop()!;
      const x = p % width;
      const y = (p - x) / width;
      cells++;
      mass += values[p]!;
      left = Math.min(left, x);
      right = Math.max(right, x);
      top = Math.min(top, y);
      bottom = Math.max(bottom, y);
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const q = ny * width + nx;
          if (label[q] === -1 && values[q]! > cut) {
            label[q] = regions.length;
            stack.push(q);
          }
        }
      }
    }
    const sx = imageWidth / width;
    const sy = imageHeight / height;
    const box = { left: Math.round(left * sx), top: Math.round(top * sy), width: Math.round((right + 1) * sx) - Math.round(left * sx), height: Math.round((bottom + 1) * sy) - Math.round(top * sy) };
    regions.push({ box: padBox(box, options.padding, imageWidth, imageHeight), area: cells / values.length, mass: mass / total });
  }
  return regions.sort((a, b) => b.mass - a.mass);
}

/** The area two boxes share. */
export function intersection(a: CropBox, b: CropBox): number {
  const w = Math.min(a.left + a.width, b.left + b.width) - Math.max(a.left, b.left);
  const h = Math.min(a.top + a.height, b.top + b.height) - Math.max(a.top, b.top);
  return w <= 0 || h <= 0 ? 0 : w * h;
}

/** Intersection over union of two boxes. */
export function iou(a: CropBox, b: CropBox): number {
  const inter = intersection(a, b);
  return inter === 0 ? 0 : inter / (a.width * a.height + b.width * b.height - inter);
}

/**
 * Square windows of side `fraction` × the short side on an n × n lattice (n = `steps`), for each (fraction, steps);
 * the whole image is not included.
 */
export function gridBoxes(width: number, height: number, levels: Array<[fraction: number, steps: number]>): CropBox[] {
  const boxes: CropBox[] = [];
  for (const [fraction, steps] of levels) {
    const side = Math.round(Math.min(width, height) * fraction);
    for (let j = 0; j < steps; j++) {
      for (let i = 0; i < steps; i++) {
        const left = steps === 1 ? Math.round((width - side) / 2) : Math.round(((width - side) * i) / (steps - 1));
        const top = steps === 1 ? Math.round((height - side) / 2) : Math.round(((height - side) * j) / (steps - 1));
        boxes.push({ left, top, width: side, height: side });
      }
    }
  }
  return boxes;
}

/** Scales a box between two sizes of the same image. */
export function rescale(box: CropBox, from: { width: number; height: number }, to: { width: number; height: number }): CropBox {
  const sx = to.width / from.width;
  const sy = to.height / from.height;
  const left = Math.round(box.left * sx);
  const top = Math.round(box.top * sy);
  return { left, top, width: Math.max(1, Math.min(to.width - left, Math.round(box.width * sx))), height: Math.max(1, Math.min(to.height - top, Math.round(box.height * sy))) };
}

/** Σ over the channels per cell of a feature map, channels first (one image of a batch from `offset`). */
export function channelSums(features: Float32Array, channels: number, cells: number, offset = 0): Float32Array {
  const sum = new Float32Array(cells);
  for (let c = 0; c < channels; c++) {
    const base = offset + c * cells;
    for (let i = 0; i < cells; i++) sum[i]! += features[base + i]!;
  }
  return sum;
}
