import fs from 'node:fs';
import path from 'node:path';
import sharp, { type OverlayOptions } from 'sharp';
import type { CropBox } from '../../core/image/autocrop';
import { intersection } from '../../core/localization/regions';
import { createProgress } from '../../core/progress';
import { seededRandom, shuffle } from '../../core/random';
import { BACKGROUND_PHOTOS, selectStampPhotos, type Stamp } from './scene-sources';

/**
 * The in-scene dev set: shopper-like photos of catalog products in real scenes, made from real photos (see
 * scene-sources.ts) and written once under .cache/scenes/<params>/, deterministic from the seed.
 *
 * - catalog: each catalog stamp flattened on white (the product photo), JPEG.
 * - single-object queries: one catalog product and one distractor object from a held-out pool of stamps that are
 *   NOT in the catalog (so the query has one right answer), on a crop of a background photo.
 * - multi-object queries: 2–3 catalog products, each an answer.
 * Each object: long side 25–55 % of the frame's short side (multi: 25–45 %), rotated ±15°, lit (gain, offset), with a
 * soft shadow half the time, placed with at most 10 % of the smaller box overlapping another; then the whole frame
 * gets a brightness and colour change, blur (σ 0.3–1.4) 70 % of the time, and JPEG quality 70–85. Ground truth: each
 * object's box (its opaque pixels) in the query's pixels.
 */
export interface PlacedObject {
  item: string;
  /** `product`: a catalog item the query should find; `distractor`: an object not in the catalog. */
  role: 'product' | 'distractor';
  box: CropBox;
}

export interface SceneQuery {
  id: string;
  kind: 'single' | 'multi';
  photo: string;
  width: number;
  height: number;
  background: string;
  objects: PlacedObject[];
}

export interface SceneDevSet {
  directory: string;
  catalog: Array<Stamp & { photo: string }>;
  /** Stamps used only as distractors (never in the catalog). */
  distractors: Stamp[];
  queries: SceneQuery[];
}

export interface SceneDevSetOptions {
  single: number;
  multi: number;
  seed: number;
}

const FRAMES: Array<[number, number]> = [[800, 600], [600, 800], [720, 720]];
const uniform = (random: () => number, low: number, high: number): number => low + random() * (high - low);

/** The catalog photo: the stamp (its file, or an RGBA PNG of it) on white, fit into `size`×`size` with a margin, as JPEG. */
export async function renderCatalogPhoto(source: string | Buffer, size = 640): Promise<Buffer> {
  const inner = Math.round(size * 0.86);
  const object = await sharp(typeof source === 'string' ? fs.readFileSync(source) : source).resize(inner, inner, { fit: 'inside' }).png().toBuffer();
  return sharp({ create: { width: size, height: size, channels: 3, background: '#ffffff' } })
    .composite([{ input: object, gravity: 'centre' }])
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** Bounding box of the pixels with alpha ≥ 32 in raw RGBA. */
export function alphaBox(data: Buffer, width: number, height: number): CropBox {
  let left = width;
  let top = height;
  let right = -1;
  let bottom = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[(y * width + x) * 4 + 3]! < 32) continue;
      if (x < left) left = x;
      if (x > right) right = x;
      if (y < top) top = y;
      if (y > bottom) bottom = y;
    }
  }
  if (right < 0) return { left: 0, top: 0, width, height };
  return { left, top, width: right - left + 1, height: bottom - top + 1 };
}

/** The object rotated, trimmed to its opaque pixels, scaled to `longSide` and lit: raw RGBA. */
async function renderObject(file: string, longSide: number, random: () => number): Promise<{ data: Buffer; width: number; height: number }> {
  const angle = uniform(random, -15, 15);
  const rotated = await sharp(fs.readFileSync(file)).ensureAlpha().rotate(angle, { background: { r: 0, g: 0, b: 0, alpha: 0 } }).raw().toBuffer({ resolveWithObject: true });
  const box = alphaBox(rotated.data, rotated.info.width, rotated.info.height);
  const scale = longSide / Math.max(box.width, box.height);
  const width = Math.max(8, Math.round(box.width * scale));
  const height = Math.max(8, Math.round(box.height * scale));
  const gain = uniform(random, 0.8, 1.15);
  const offset = uniform(random, -15, 15);
  const { data, info } = await sharp(rotated.data, { raw: { width: rotated.info.width, height: rotated.info.height, channels: 4 } })
    .extract(box)
    .resize(width, height, { fit: 'fill' })
    .linear([gain, gain, gain, 1], [offset, offset, offset, 0])
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** A soft shadow: the object's alpha, blurred, as translucent black. */
async function shadowOf(object: { data: Buffer; width: number; height: number }, strength: number): Promise<Buffer> {
  const pad = 12;
  const alpha = Buffer.alloc((object.width + 2 * pad) * (object.height + 2 * pad) * 4);
  for (let y = 0; y < object.height; y++) {
    for (let x = 0; x < object.width; x++) {
      alpha[((y + pad) * (object.width + 2 * pad) + x + pad) * 4 + 3] = Math.round(object.data[(y * object.width + x) * 4 + 3]! * strength);
    }
  }
  return sharp(alpha, { raw: { width: object.width + 2 * pad, height: object.height + 2 * pad, channels: 4 } }).blur(5).png().toBuffer();
}

/** The area two boxes share, as a share of the smaller one. */
const overlap = (a: CropBox, b: CropBox): number => {
  const shared = intersection(a, b);
  return shared > 0 ? shared / Math.min(a.width * a.height, b.width * b.height) : 0;
};

/** Positions for boxes of the given sizes inside the frame, each overlapping the others by ≤ 10 % (best of 200 tries). */
function place(sizes: Array<{ width: number; height: number }>, frameWidth: number, frameHeight: number, random: () => number): CropBox[] {
  let best: CropBox[] = [];
  let bestOverlap = Infinity;
  for (let attempt = 0; attempt < 200 && bestOverlap > 0.1; attempt++) {
    const boxes = sizes.map(({ width, height }) => ({
      left: Math.round(random() * Math.max(0, frameWidth - width)),
      top: Math.round(random() * Math.max(0, frameHeight - height)),
      width: Math.min(width, frameWidth),
      height: Math.min(height, frameHeight),
    }));
    let worst = 0;
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) worst = Math.max(worst, overlap(boxes[i]!, boxes[j]!));
    if (worst < bestOverlap) [best, bestOverlap] = [boxes, worst];
  }
  return best;
}

const backgroundCache = new Map<string, Promise<{ data: Buffer; width: number; height: number }>>();

/** A background photo decoded once, at most 1600 px on its long side. */
function loadBackground(file: string): Promise<{ data: Buffer; width: number; height: number }> {
  let entry = backgroundCache.get(file);
  if (!entry) {
    entry = sharp(fs.readFileSync(file))
      .resize(1600, 1600, { fit: 'inside', withoutEnlargement: true })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true })
      .then(({ data, info }) => ({ data, width: info.width, height: info.height }));
    backgroundCache.set(file, entry);
  }
  return entry;
}

/**
 * One query photo: the objects (stamp, role, long side as a share of the frame's short side) on a background, one of
 * `backgrounds` (the dev set's photos unless given: the objectness head's training set passes its own).
 */
export async function composeScene(
  objects: Array<{ stamp: Pick<Stamp, 'id' | 'file'>; role: PlacedObject['role']; size: number }>,
  random: () => number,
  backgrounds: readonly string[] = BACKGROUND_PHOTOS,
): Promise<{ jpeg: Buffer; width: number; height: number; background: string; placed: PlacedObject[] }> {
  const [width, height] = FRAMES[Math.floor(random() * FRAMES.length)]!;
  const backgroundFile = backgrounds[Math.floor(random() * backgrounds.length)]!;
  const background = await loadBackground(backgroundFile);
  // A random crop of the photo with the frame's aspect, 55–100 % of the largest such crop, sometimes mirrored.
  const fit = Math.min(background.width / width, background.height / height) * uniform(random, 0.55, 1);
  const cropWidth = Math.round(width * fit);
  const cropHeight = Math.round(height * fit);
  const frame = await sharp(background.data, { raw: { width: background.width, height: background.height, channels: 3 } })
    .extract({ left: Math.floor(random() * (background.width - cropWidth + 1)), top: Math.floor(random() * (background.height - cropHeight + 1)), width: cropWidth, height: cropHeight })
    .resize(width, height, { fit: 'fill' })
    .flop(random() < 0.5)
    .png()
    .toBuffer();
  const rendered = await Promise.all(objects.map(({ stamp, size }) => renderObject(stamp.file, Math.round(size * Math.min(width, height)), random)));
  const boxes = place(rendered, width, height, random);
  const layers: OverlayOptions[] = [];
  for (const [i, object] of rendered.entries()) {
    const box = boxes[i]!;
    if (random() < 0.5) layers.push({ input: await shadowOf(object, uniform(random, 0.25, 0.45)), left: box.left - 12 + Math.round(uniform(random, 2, 10)), top: box.top - 12 + Math.round(uniform(random, 2, 12)) });
    layers.push({ input: object.data, raw: { width: object.width, height: object.height, channels: 4 }, left: box.left, top: box.top });
  }
  const brightness = uniform(random, 0.8, 1.15);
  const cast = [uniform(random, 0.94, 1.06), uniform(random, 0.94, 1.06), uniform(random, 0.94, 1.06)];
  const blur = random() < 0.7 ? uniform(random, 0.3, 1.4) : 0;
  const quality = Math.round(uniform(random, 70, 85));
  // Composite first, then the frame-wide changes, in separate pipelines (sharp applies composites last otherwise).
  const composed = await sharp(frame).composite(layers).png().toBuffer();
  let pipeline = sharp(composed).linear(cast.map((c) => c * brightness), [0, 0, 0]);
  if (blur > 0) pipeline = pipeline.blur(blur);
  const jpeg = await pipeline.jpeg({ quality }).toBuffer();
  const placed = objects.map(({ stamp, role }, i) => ({ item: stamp.id, role, box: boxes[i]! }));
  return { jpeg, width, height, background: backgroundFile, placed };
}

/** Builds (or loads) the in-scene dev set under `root`. */
export async function buildSceneDevSet(root: string, options: SceneDevSetOptions): Promise<SceneDevSet> {
  const directory = path.join(root, `s${options.single}-m${options.multi}-seed${options.seed}`);
  const indexFile = path.join(directory, 'scenes.json');
  if (fs.existsSync(indexFile)) return JSON.parse(fs.readFileSync(indexFile, 'utf8')) as SceneDevSet;
  fs.mkdirSync(path.join(directory, 'catalog'), { recursive: true });
  fs.mkdirSync(path.join(directory, 'queries'), { recursive: true });
  const random = seededRandom(options.seed);
  const stamps = shuffle(await selectStampPhotos(), random);
  // Every fifth stamp is a distractor only: objects in the photo that the catalog does not sell.
  const distractors = stamps.filter((_, i) => i % 5 === 0);
  const catalogStamps = stamps.filter((_, i) => i % 5 !== 0);
  const catalog: SceneDevSet['catalog'] = [];
  let progress = createProgress('scenes: catalog photos');
  for (const stamp of catalogStamps) {
    const photo = path.join(directory, 'catalog', `${stamp.id}.jpg`);
    fs.writeFileSync(photo, await renderCatalogPhoto(stamp.file));
    catalog.push({ ...stamp, photo });
    progress.update(catalog.length, catalogStamps.length);
  }
  progress.done();
  const queries: SceneQuery[] = [];
  const pick = (pool: Stamp[], avoid: Set<string>): Stamp => {
    for (;;) {
      const stamp = pool[Math.floor(random() * pool.length)]!;
      if (!avoid.has(stamp.subcategory)) return stamp;
    }
  };
  const total = options.single + options.multi;
  progress = createProgress('scenes: queries');
  for (let q = 0; q < total; q++) {
    const kind = q < options.single ? 'single' : 'multi';
    const objects: Array<{ stamp: Stamp; role: PlacedObject['role']; size: number }> = [];
    if (kind === 'single') {
      const product = catalog[q % catalog.length]!;
      objects.push({ stamp: product, role: 'product', size: uniform(random, 0.25, 0.55) });
      objects.push({ stamp: pick(distractors, new Set([product.subcategory])), role: 'distractor', size: uniform(random, 0.25, 0.55) });
    } else {
      const count = random() < 0.5 ? 2 : 3;
      const used = new Set<string>();
      for (let i = 0; i < count; i++) {
        const stamp = pick(catalog, used);
        used.add(stamp.subcategory);
        objects.push({ stamp, role: 'product', size: uniform(random, 0.25, 0.45) });
      }
    }
    // Stacking order is random: the product is sometimes the one partly covered.
    const scene = await composeScene(shuffle(objects, random), random);
    const id = `${kind}-${String(q).padStart(4, '0')}`;
    const photo = path.join(directory, 'queries', `${id}.jpg`);
    fs.writeFileSync(photo, scene.jpeg);
    queries.push({ id, kind, photo, width: scene.width, height: scene.height, background: scene.background, objects: scene.placed });
    progress.update(queries.length, total);
  }
  progress.done();
  const devset: SceneDevSet = { directory, catalog, distractors, queries };
  fs.writeFileSync(indexFile, JSON.stringify(devset));
  return devset;
}
