import sharp from 'sharp';
import type { CropBox } from './autocrop';
import type { RgbImage } from './decode';

/**
 * Per-model preprocessing: crop, resize (short side + centre crop, letterbox or stretch), colour order, layout and
 * normalisation, written straight into the model's batch tensor at the image's slot (no intermediate arrays).
 */
export interface ModelInputSpec {
  width: number;
  height: number;
  layout: 'NCHW' | 'NHWC';
  colorOrder: 'RGB' | 'BGR';
  resize: 'crop' | 'letterbox' | 'stretch';
  resizeShortSide?: number | undefined;
  scale: number;
  mean: [number, number, number];
  std: [number, number, number];
  padColor: [number, number, number];
}

/**
 * The part of `region` a model sees once resizeForModel has resized and centre-cropped it: the centred square of the
 * short side × width ÷ resizeShortSide for `crop` with a short side (e.g. 224 of 256: seven eighths), the centred
 * square of the short side for `crop`, the whole region otherwise. For a square model input.
 */
export function modelView(region: CropBox, input: Pick<ModelInputSpec, 'width' | 'resize' | 'resizeShortSide'>): CropBox {
  if (input.resize !== 'crop') return region;
  const side = Math.min(region.width, region.height) * (input.resizeShortSide ? input.width / input.resizeShortSide : 1);
  return { left: region.left + (region.width - side) / 2, top: region.top + (region.height - side) / 2, width: side, height: side };
}

/** The model-sized RGB pixels of `image` (cropped to `crop` when given). */
export async function resizeForModel(image: RgbImage, crop: CropBox | null, input: ModelInputSpec): Promise<Buffer> {
  let pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  const region = crop ?? { left: 0, top: 0, width: image.width, height: image.height };
  if (crop) pipeline = pipeline.extract(crop);
  const { width, height } = input;
  if (input.resize === 'crop' && input.resizeShortSide) {
    const scale = input.resizeShortSide / Math.min(region.width, region.height);
    const resizedWidth = Math.max(width, Math.round(region.width * scale));
    const resizedHeight = Math.max(height, Math.round(region.height * scale));
    pipeline = pipeline
      .resize(resizedWidth, resizedHeight, { fit: 'fill' })
      .extract({ left: Math.floor((resizedWidth - width) / 2), top: Math.floor((resizedHeight - height) / 2), width, height });
  } else if (input.resize === 'crop') {
    pipeline = pipeline.resize(width, height, { fit: 'cover', position: 'centre' });
  } else if (input.resize === 'letterbox') {
    const [r, g, b] = input.padColor;
    pipeline = pipeline.resize(width, height, { fit: 'contain', background: { r, g, b } });
  } else {
    pipeline = pipeline.resize(width, height, { fit: 'fill' });
  }
  const { data, info } = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height || info.channels !== 3) {
    throw new Error(`preprocessing produced ${info.width}×${info.height}×${info.channels}, expected ${width}×${height}×3`);
  }
  return data;
}

/** Writes model-sized RGB pixels into `target` at image slot `slot`, normalised and laid out as the model expects. */
export function writeTensor(pixels: Uint8Array, input: ModelInputSpec, target: Float32Array, slot: number): void {
  const plane = input.width * input.height;
  const base = slot * plane * 3;
  const order = input.colorOrder === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  for (let c = 0; c < 3; c++) {
    const source = order[c]!;
    const multiply = input.scale / input.std[c]!;
    const add = -input.mean[c]! / input.std[c]!;
    if (input.layout === 'NCHW') {
      const offset = base + c * plane;
      for (let i = 0; i < plane; i++) target[offset + i] = pixels[i * 3 + source]! * multiply + add;
    } else {
      for (let i = 0; i < plane; i++) target[base + i * 3 + c] = pixels[i * 3 + source]! * multiply + add;
    }
  }
}
