import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { CropBox } from '../../core/image/autocrop';
import { createProgress } from '../../core/progress';
import { seededRandom, shuffle } from '../../core/random';
import { alphaBox, composeScene, renderCatalogPhoto } from './scenes';
import { selectStampPhotos } from './scene-sources';

/**
 * The hard-negative dev set (issue 13): real photos of isolated objects (tuxpaint's stamp photos, see scene-sources.ts),
 * written once under .cache/hard-negatives/<params>/, deterministic from the seed.
 *
 * - catalog, per object: the whole item on white (the product a query should find), and as other products what shops
 *   list beside it: `closeups` close-ups of its parts (a box of 40–65 % of the object's width and height, anywhere on
 *   it, enlarged to a product photo of its own) and one near-identical variant (the same item recoloured: its hue turned
 *   by 90–270°).
 * - queries: phone-like photos of whole items: the object at 55–85 % of the frame's short side on a crop of a real
 *   background photo, rotated ±15°, lit, with a soft shadow half the time, blur and JPEG (composeScene).
 */
export interface HardNegativeProduct {
  id: string;
  /** `whole`: the item itself; `closeup`: a part of it; `variant`: the item recoloured. */
  kind: 'whole' | 'closeup' | 'variant';
  /** The object the photo shows (the stamp id). */
  object: string;
  photo: string;
}

export interface HardNegativeQuery {
  id: string;
  /** The product (a `whole` one) the query shows. */
  product: string;
  photo: string;
  /** Where the object is in the photo (its opaque pixels), px. */
  box: CropBox;
}

export interface HardNegativeDevSet {
  directory: string;
  catalog: HardNegativeProduct[];
  queries: HardNegativeQuery[];
}

export interface HardNegativeOptions {
  /** Objects (each a whole product, its close-ups and its variant); at most the stamp photos there are. */
  objects: number;
  closeups: number;
  seed: number;
}

const uniform = (random: () => number, low: number, high: number): number => low + random() * (high - low);

/** A part of the object: a box of 40–65 % of its opaque box's width and height, anywhere inside it, as RGBA PNG. */
async function closeup(file: string, random: () => number): Promise<Buffer> {
  const { data, info } = await sharp(fs.readFileSync(file)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const box = alphaBox(data, info.width, info.height);
  const width = Math.max(8, Math.round(box.width * uniform(random, 0.4, 0.65)));
  const height = Math.max(8, Math.round(box.height * uniform(random, 0.4, 0.65)));
  const left = box.left + Math.floor(random() * (box.width - width + 1));
  const top = box.top + Math.floor(random() * (box.height - height + 1));
  return sharp(data, { raw: { width: info.width, height: info.height, channels: 4 } }).extract({ left, top, width, height }).png().toBuffer();
}

/** The object recoloured: its hue turned by 90–270° (alpha kept), as RGBA PNG. */
async function recoloured(file: string, random: () => number): Promise<Buffer> {
  return sharp(fs.readFileSync(file))
    .ensureAlpha()
    .modulate({ hue: Math.round(uniform(random, 90, 270)) })
    .png()
    .toBuffer();
}

/** Builds (or loads) the hard-negative dev set under `root`. */
export async function buildHardNegativeDevSet(root: string, options: HardNegativeOptions): Promise<HardNegativeDevSet> {
  const directory = path.join(root, `o${options.objects}-c${options.closeups}-seed${options.seed}`);
  const indexFile = path.join(directory, 'hard-negatives.json');
  if (fs.existsSync(indexFile)) return JSON.parse(fs.readFileSync(indexFile, 'utf8')) as HardNegativeDevSet;
  fs.mkdirSync(path.join(directory, 'catalog'), { recursive: true });
  fs.mkdirSync(path.join(directory, 'queries'), { recursive: true });
  const random = seededRandom(options.seed);
  const stamps = shuffle(await selectStampPhotos(), random).slice(0, options.objects);
  const catalog: HardNegativeProduct[] = [];
  const queries: HardNegativeQuery[] = [];
  const progress = createProgress('hard negatives: catalog and queries');
  for (const [n, stamp] of stamps.entries()) {
    const write = async (id: string, kind: HardNegativeProduct['kind'], source: string | Buffer) => {
      const photo = path.join(directory, 'catalog', `${id}.jpg`);
      fs.writeFileSync(photo, await renderCatalogPhoto(source));
      catalog.push({ id, kind, object: stamp.id, photo });
    };
    await write(stamp.id, 'whole', stamp.file);
    for (let c = 0; c < options.closeups; c++) await write(`${stamp.id}-closeup${c}`, 'closeup', await closeup(stamp.file, random));
    await write(`${stamp.id}-variant`, 'variant', await recoloured(stamp.file, random));
    const scene = await composeScene([{ stamp, role: 'product', size: uniform(random, 0.55, 0.85) }], random);
    const photo = path.join(directory, 'queries', `${stamp.id}.jpg`);
    fs.writeFileSync(photo, scene.jpeg);
    queries.push({ id: stamp.id, product: stamp.id, photo, box: scene.placed[0]!.box });
    progress.update(n + 1, stamps.length);
  }
  progress.done();
  const devset: HardNegativeDevSet = { directory, catalog, queries };
  fs.writeFileSync(indexFile, JSON.stringify(devset));
  return devset;
}
