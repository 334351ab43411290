import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp, { type OverlayOptions } from 'sharp';

/**
 * Files are read into buffers before sharp sees them: the decoder allow-list (core/image/decode.ts) blocks
 * libvips' file loaders process-wide once any image has been decoded.
 *
 * Real images for the dev set and the demo: Debian's openclipart-png (public-domain drawings in category folders),
 * rendered as catalog "product photos", and photo-like queries made from them.
 */
export const CLIPART_ROOT = '/usr/share/openclipart/png';

export interface ClipartItem {
  id: string;
  file: string;
  /** Top-level folder: animals, food, transportation … */
  category: string;
  /** Second-level folder when there is one (food/fruit → fruit). */
  subcategory: string;
}

export { seededRandom as seeded, shuffle } from '../../core/random';
import { seededRandom as seeded, shuffle } from '../../core/random';

function walk(directory: string): string[] {
  return fs.readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    return entry.isDirectory() ? walk(full) : entry.name.endsWith('.png') ? [full] : [];
  });
}

/**
 * Up to `perCategory` drawings per top-level category, chosen by a seeded shuffle, each distinct in content, at most
 * `maxPixels`, at least 64 px a side, and not nearly empty. Categories that are not products (buttons, logos, signs,
 * shapes, unsorted, special) are left out.
 */
export async function selectClipart(options: { perCategory: number; seed: number; maxPixels?: number; exclude?: string[] }): Promise<ClipartItem[]> {
  if (!fs.existsSync(CLIPART_ROOT)) throw new Error(`${CLIPART_ROOT} is missing: apt-get install openclipart-png (npm run setup does)`);
  const exclude = new Set(options.exclude ?? ['buttons', 'logos', 'signs_and_symbols', 'shapes', 'unsorted', 'special', 'geography', 'decorations']);
  const byCategory = new Map<string, string[]>();
  for (const file of walk(CLIPART_ROOT).sort()) {
    const parts = path.relative(CLIPART_ROOT, file).split(path.sep);
    if (parts.length < 2 || exclude.has(parts[0]!)) continue;
    byCategory.set(parts[0]!, [...(byCategory.get(parts[0]!) ?? []), file]);
  }
  const random = seeded(options.seed);
  const seen = new Set<string>();
  const items: ClipartItem[] = [];
  for (const [category, files] of [...byCategory.entries()].sort()) {
    let taken = 0;
    for (const file of shuffle(files, random)) {
      if (taken >= options.perCategory) break;
      const bytes = fs.readFileSync(file);
      const hash = createHash('sha1').update(bytes).digest('hex');
      const name = path.basename(file);
      if (seen.has(hash) || seen.has(name)) continue;
      const meta = await sharp(bytes, { limitInputPixels: false }).metadata().catch(() => null);
      if (!meta?.width || !meta.height || meta.width < 64 || meta.height < 64) continue;
      if (meta.width * meta.height > (options.maxPixels ?? 40_000_000)) continue;
      seen.add(hash);
      seen.add(name);
      const parts = path.relative(CLIPART_ROOT, file).split(path.sep);
      items.push({ id: `${category}-${hash.slice(0, 10)}`, file, category, subcategory: parts.length > 2 ? parts[1]! : category });
      taken++;
    }
  }
  return items;
}

/** The catalog photo: the drawing on white, fit into `size`×`size` with a margin, as JPEG. */
export async function renderProduct(file: string, size = 800): Promise<Buffer> {
  const inner = Math.round(size * 0.86);
  const drawing = await sharp(fs.readFileSync(file), { limitInputPixels: false }).resize(inner, inner, { fit: 'inside' }).png().toBuffer();
  return sharp({ create: { width: size, height: size, channels: 3, background: '#ffffff' } })
    .composite([{ input: drawing, gravity: 'centre' }])
    .jpeg({ quality: 90 })
    .toBuffer();
}

export const DISTORTIONS = ['crop', 'rotate', 'blur', 'jpeg40', 'colour_cast', 'textured_background', 'phone'] as const;
export type Distortion = (typeof DISTORTIONS)[number];

/** A table-like texture: smoothed noise, tinted wood/fabric colours. */
async function texture(width: number, height: number, random: () => number): Promise<Buffer> {
  const tints = [{ r: 150, g: 110, b: 70 }, { r: 120, g: 130, b: 140 }, { r: 190, g: 170, b: 140 }, { r: 90, g: 80, b: 75 }];
  const tint = tints[Math.floor(random() * tints.length)]!;
  return sharp({ create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .blur(1.5)
    .tint(tint)
    .png()
    .toBuffer();
}

/**
 * A photo of several drawings on a table-like surface (`width`×`height`): one per column, each fit into 80 % of its
 * column and 70 % of the height, at a seeded height. Returns the JPEG and each drawing's box (its opaque pixels).
 */
export async function renderScene(files: string[], options: { width: number; height: number; seed: number }): Promise<{ jpeg: Buffer; boxes: Array<{ left: number; top: number; width: number; height: number }> }> {
  const random = seeded(options.seed);
  const column = Math.floor(options.width / files.length);
  const layers: OverlayOptions[] = [];
  const boxes: Array<{ left: number; top: number; width: number; height: number }> = [];
  for (const [i, file] of files.entries()) {
    const { data, info } = await sharp(fs.readFileSync(file), { limitInputPixels: false })
      .ensureAlpha()
      .trim({ background: { r: 0, g: 0, b: 0, alpha: 0 } })
      .resize(Math.round(column * 0.8), Math.round(options.height * 0.7), { fit: 'inside' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const left = i * column + Math.round((column - info.width) / 2);
    const top = Math.round(random() * (options.height - info.height));
    layers.push({ input: data, raw: { width: info.width, height: info.height, channels: 4 }, left, top });
    boxes.push({ left, top, width: info.width, height: info.height });
  }
  const jpeg = await sharp(await texture(options.width, options.height, random)).composite(layers).jpeg({ quality: 88 }).toBuffer();
  return { jpeg, boxes };
}

/** A photo-like query of a catalog item: one distortion, with parameters from `random`. */
export async function distort(file: string, catalogPhoto: Buffer, kind: Distortion, random: () => number): Promise<Buffer> {
  switch (kind) {
    case 'crop': {
      const meta = await sharp(catalogPhoto).metadata();
      const w = Math.round(meta.width! * (0.72 + random() * 0.18));
      const h = Math.round(meta.height! * (0.72 + random() * 0.18));
      return sharp(catalogPhoto).extract({ left: Math.floor(random() * (meta.width! - w)), top: Math.floor(random() * (meta.height! - h)), width: w, height: h }).jpeg({ quality: 85 }).toBuffer();
    }
    case 'rotate':
      return sharp(catalogPhoto).rotate((random() < 0.5 ? -1 : 1) * (4 + random() * 8), { background: '#ffffff' }).jpeg({ quality: 85 }).toBuffer();
    case 'blur':
      return sharp(catalogPhoto).blur(1.5 + random()).jpeg({ quality: 85 }).toBuffer();
    case 'jpeg40':
      return sharp(catalogPhoto).resize(480).jpeg({ quality: 40 }).toBuffer();
    case 'colour_cast': {
      const warm = random() < 0.5;
      const gain = 0.9 + random() * 0.2;
      return sharp(catalogPhoto)
        .linear(warm ? [1.08 * gain, 1.0 * gain, 0.82 * gain] : [0.85 * gain, 0.97 * gain, 1.1 * gain], [0, 0, 0])
        .jpeg({ quality: 85 })
        .toBuffer();
    }
    case 'textured_background': {
      const size = 900;
      const scale = 0.5 + random() * 0.25;
      const drawing = await sharp(fs.readFileSync(file), { limitInputPixels: false }).resize(Math.round(size * scale), Math.round(size * scale), { fit: 'inside' }).png().toBuffer();
      return sharp(await texture(size, size, random))
        .composite([{ input: drawing, left: Math.round(random() * size * (1 - scale)), top: Math.round(random() * size * (1 - scale)) }])
        .jpeg({ quality: 85 })
        .toBuffer();
    }
    case 'phone': {
      // A 12-megapixel portrait phone photo: the item at 55 % of the width on an uneven light surface, a little soft.
      // The surface is made at a quarter of the size and scaled up (the same look, a fraction of the work).
      const width = 3024;
      const height = 4032;
      const drawing = await sharp(fs.readFileSync(file), { limitInputPixels: false })
        .resize(Math.round(width * 0.55), Math.round(height * 0.5), { fit: 'inside' })
        .blur(1.2)
        .png({ compressionLevel: 1 })
        .toBuffer();
      const small = await sharp({ create: { width: width / 4, height: height / 4, channels: 3, background: '#d7d7d7', noise: { type: 'gaussian', mean: 215, sigma: 8 } } })
        .blur(2)
        .png({ compressionLevel: 1 })
        .toBuffer();
      return sharp(small)
        .resize(width, height)
        .composite([{ input: drawing, gravity: 'centre' }])
        .jpeg({ quality: 85 })
        .toBuffer();
    }
  }
}
