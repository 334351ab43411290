import { createHash } from 'node:crypto';
import sharp, { type Metadata, type SharpOptions } from 'sharp';
import { AppError, PayloadTooLargeError, UnsupportedImageError } from '../errors';
import { ALLOWED_LOADERS, sniffFormat, type ImageFormat } from './formats';

/**
 * Safe decoding of untrusted images into one "working" RGB image that every model's preprocessing starts from.
 *
 * - Limits: bytes (checked before decoding), pixels (`limitInputPixels`, checked on the header), truncated or corrupt
 *   data (`failOn: 'truncated'`): each a stable error code, never a crash.
 * - EXIF orientation applied; alpha flattened onto white; CMYK, 16-bit, grayscale and palette images converted to
 *   8-bit sRGB; GIF and animated WebP give their first frame.
 * - The working image is at most `workingSize` px on its long side; libvips shrinks large JPEGs on load.
 */

// libvips's operation cache keeps recent operations and their pixels for a repeat of the same call on the same input
// (up to 50 MB by default). Every photo here is decoded once, so it only held memory.
sharp.cache(false);

export interface DecodeLimits {
  /** Largest accepted input, bytes. Default 20 MiB. */
  maxBytes: number;
  /** Largest accepted width × height. Default 50 megapixels. */
  maxPixels: number;
  /** Long side of the working image. Default 512. */
  workingSize: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxBytes: 20 * 1024 * 1024, maxPixels: 50_000_000, workingSize: 512 };

/** An 8-bit RGB image in memory, row-major, 3 bytes per pixel. */
export interface RgbImage {
  data: Buffer;
  width: number;
  height: number;
}

export interface DecodedImage extends RgbImage {
  format: ImageFormat;
  /** Size of the original after EXIF orientation, px. */
  originalWidth: number;
  originalHeight: number;
  /** sha256 of the original bytes: with a model id and version, the key of an embedding. */
  contentHash: string;
}

/** Error codes of refused images (each an AppError; HTTP status in brackets). */
export const IMAGE_ERRORS = {
  empty: 'empty_image', // 400
  tooManyBytes: 'image_too_large', // 413
  tooManyPixels: 'image_dimensions_too_large', // 413
  unsupported: 'unsupported_image', // 415
  corrupt: 'corrupt_image', // 422
} as const;

let restricted = false;

/** Blocks every libvips loader except the accepted formats' buffer loaders (process-wide; idempotent). */
export function restrictDecoders(): void {
  if (restricted) return;
  sharp.block({ operation: ['VipsForeignLoad'] });
  sharp.unblock({ operation: ALLOWED_LOADERS });
  restricted = true;
}

export function hashImage(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function decodeImage(bytes: Buffer, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<DecodedImage> {
  restrictDecoders();
  if (bytes.length === 0) throw new AppError(IMAGE_ERRORS.empty, 'the image is empty', 400);
  if (bytes.length > limits.maxBytes) {
    throw new PayloadTooLargeError(`the image is ${bytes.length} bytes; the limit is ${limits.maxBytes}`, IMAGE_ERRORS.tooManyBytes);
  }
  const format = sniffFormat(bytes);
  if (!format) {
    throw new UnsupportedImageError('unsupported image format; send JPEG, PNG, WebP, AVIF or GIF', IMAGE_ERRORS.unsupported);
  }
  const options: SharpOptions = { limitInputPixels: limits.maxPixels, failOn: 'truncated', sequentialRead: true, pages: 1 };
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, options).metadata();
  } catch (error) {
    throw classify(error);
  }
  const width = metadata.autoOrient?.width ?? metadata.width ?? 0;
  const height = metadata.autoOrient?.height ?? metadata.height ?? 0;
  if (!width || !height) throw new AppError(IMAGE_ERRORS.corrupt, 'the image has no dimensions', 422);
  if (width * height > limits.maxPixels) {
    throw new PayloadTooLargeError(`the image is ${width}×${height} px; the limit is ${limits.maxPixels} px`, IMAGE_ERRORS.tooManyPixels);
  }
  if (format === 'avif' && metadata.compression !== undefined && metadata.compression !== 'av1') {
    throw new UnsupportedImageError(`HEIF images with ${metadata.compression} compression are not supported`, IMAGE_ERRORS.unsupported);
  }
  try {
    const { data, info } = await sharp(bytes, options)
      .autoOrient()
      .resize(limits.workingSize, limits.workingSize, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' })
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new AppError(IMAGE_ERRORS.corrupt, `decoded to ${info.channels} channels`, 422);
    return { data, width: info.width, height: info.height, format, originalWidth: width, originalHeight: height, contentHash: hashImage(bytes) };
  } catch (error) {
    throw classify(error);
  }
}

/** Maps libvips' messages to stable codes; the message stays generic (no library internals to the client). */
function classify(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) {
    return new PayloadTooLargeError('the image has more pixels than allowed', IMAGE_ERRORS.tooManyPixels);
  }
  if (/not permitted|blocked|unsupported image format/i.test(message)) {
    return new UnsupportedImageError('unsupported image format; send JPEG, PNG, WebP, AVIF or GIF', IMAGE_ERRORS.unsupported, error);
  }
  return new AppError(IMAGE_ERRORS.corrupt, 'the image is truncated or corrupt and cannot be decoded', 422, { cause: error });
}
