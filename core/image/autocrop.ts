import sharp from 'sharp';
import { z } from 'zod';
import type { RgbImage } from './decode';

/**
 * Cropping to the product before embedding (the field's lesson: background and framing otherwise dominate).
 *
 * - `trim`: find the background colour from the image's border and cut near-uniform borders away (a product on
 *   white, an item lying on a table). Guards: the border must be near-uniform, what is left must be a real part of the
 *   image (≥ 2 % of its area, ≥ 8 px a side), and a small margin is kept around the product.
 * - `attention`: libvips' saliency crop to a square of the short side (busy photos where trim finds no border).
 * - `none`.
 */
export type AutocropMode = 'trim' | 'attention' | 'none';

const pixels = z.number().int().min(0);
export const cropBoxSchema = z.object({ left: pixels, top: pixels, width: pixels, height: pixels });
export type CropBox = z.infer<typeof cropBoxSchema>;

export interface TrimOptions {
  /** A pixel is background when no channel differs from the background colour by more than this. Default 28. */
  tolerance: number;
  /** The border is near-uniform when at least this share of its pixels is background. Default 0.85. */
  borderUniformity: number;
  /** A row or column holds product when at least this share of its pixels is not background. Default 0.01. */
  lineThreshold: number;
  /** The crop must keep at least this share of the image's area. Default 0.02. */
  minAreaRatio: number;
  /** Margin kept around the product, as a share of its size. Default 0.03. */
  margin: number;
}

export const DEFAULT_TRIM: TrimOptions = { tolerance: 28, borderUniformity: 0.85, lineThreshold: 0.01, minAreaRatio: 0.02, margin: 0.03 };

/** The crop for `mode`, in the image's own pixel coordinates, or null when the whole image should be used. */
export async function findCrop(image: RgbImage, mode: AutocropMode, options: TrimOptions = DEFAULT_TRIM): Promise<CropBox | null> {
  if (mode === 'none') return null;
  if (mode === 'trim') return trimBox(image, options);
  return attentionBox(image);
}

function median(values: Uint8Array): number {
  const counts = new Uint32Array(256);
  for (const value of values) counts[value]!++;
  let seen = 0;
  for (let v = 0; v < 256; v++) {
    seen += counts[v]!;
    if (seen * 2 >= values.length) return v;
  }
  return 255;
}

export function trimBox(image: RgbImage, options: TrimOptions = DEFAULT_TRIM): CropBox | null {
  const { data, width, height } = image;
  if (width < 16 || height < 16) return null;
  // Border ring, 2 px wide.
  const ring: number[] = [];
  for (let x = 0; x < width; x++) ring.push(x, width + x, (height - 1) * width + x, (height - 2) * width + x);
  for (let y = 2; y < height - 2; y++) ring.push(y * width, y * width + 1, y * width + width - 1, y * width + width - 2);
  const channels = [0, 1, 2].map((c) => median(Uint8Array.from(ring, (p) => data[p * 3 + c]!)));
  const [br, bg, bb] = channels as [number, number, number];
  const tol = options.tolerance;
  const isBackground = (p: number): boolean =>
    Math.abs(data[p * 3]! - br) <= tol && Math.abs(data[p * 3 + 1]! - bg) <= tol && Math.abs(data[p * 3 + 2]! - bb) <= tol;
  let uniform = 0;
  for (const p of ring) if (isBackground(p)) uniform++;
  if (uniform < ring.length * options.borderUniformity) return null;

  // Count non-background pixels per row and column on a sampling grid (every `step`-th pixel on larger images):
  // the box is then exact to `step` px, well inside the margin, for a fraction of the work.
  const step = Math.max(1, Math.floor(Math.min(width, height) / 160));
  const rows = new Uint32Array(height);
  const cols = new Uint32Array(width);
  for (let y = 0; y < height; y += step) {
    for (let x = 0; x < width; x += step) {
      if (!isBackground(y * width + x)) {
        rows[y]!++;
        cols[x]!++;
      }
    }
  }
  const first = (counts: Uint32Array, min: number): number => counts.findIndex((n) => n >= min);
  const last = (counts: Uint32Array, min: number): number => counts.length - 1 - [...counts].reverse().findIndex((n) => n >= min);
  const rowMin = Math.max(1, Math.ceil((width / step) * options.lineThreshold));
  const colMin = Math.max(1, Math.ceil((height / step) * options.lineThreshold));
  const top = first(rows, rowMin);
  const left = first(cols, colMin);
  if (top < 0 || left < 0) return null;
  const bottom = Math.min(height - 1, last(rows, rowMin) + step - 1);
  const right = Math.min(width - 1, last(cols, colMin) + step - 1);
  const boxWidth = right - left + 1;
  const boxHeight = bottom - top + 1;
  if (boxWidth < 8 || boxHeight < 8 || boxWidth * boxHeight < width * height * options.minAreaRatio) return null;
  const mx = Math.round(boxWidth * options.margin);
  const my = Math.round(boxHeight * options.margin);
  const box = {
    // The sampled bounds may sit up to step − 1 px inside the true ones: widen by that on the far sides.
    left: Math.max(0, left - mx),
    top: Math.max(0, top - my),
    width: Math.min(width, right + mx + 1) - Math.max(0, left - mx),
    height: Math.min(height, bottom + my + 1) - Math.max(0, top - my),
  };
  // Nothing worth trimming: keep the whole image.
  if (box.width >= width * 0.97 && box.height >= height * 0.97) return null;
  return box;
}

async function attentionBox(image: RgbImage): Promise<CropBox | null> {
  const side = Math.min(image.width, image.height);
  if (image.width === image.height) return null;
  const { info } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(side, side, { fit: 'cover', position: sharp.strategy.attention })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const left = Math.abs(info.cropOffsetLeft ?? 0);
  const top = Math.abs(info.cropOffsetTop ?? 0);
  return { left, top, width: side, height: side };
}

/** Maps a box from the working image to the original image's coordinates. */
export function scaleBox(box: CropBox, from: { width: number; height: number }, to: { width: number; height: number }): CropBox {
  const sx = to.width / from.width;
  const sy = to.height / from.height;
  const left = Math.round(box.left * sx);
  const top = Math.round(box.top * sy);
  return { left, top, width: Math.min(to.width - left, Math.round(box.width * sx)), height: Math.min(to.height - top, Math.round(box.height * sy)) };
}
