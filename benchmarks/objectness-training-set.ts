/**
 * The objectness head's training set (models/train_objectness_head.py trains on it): synthetic scenes composed like
 * the in-scene dev set (benchmarks/lib/scenes.ts: same frames, rotation, lighting, shadow, blur, JPEG) from sources
 * disjoint from both dev sets (benchmarks/lib/objectness-sources.ts), each run through the built-in localizer as the
 * service runs it (decoded to the working image, feature map at 448 px).
 *
 * Writes under .cache/objectness/n<scenes>-seed<seed>/: `features.u8` (each scene's map, channels first, quantised
 * as round(v · 255 / 6): the map is the output of a ReLU6, so [0, 6]) and `index.json` (per scene: map size, byte
 * offset, the objects' boxes as shares of the image). Deterministic from the seed.
 *
 * usage: npx tsx benchmarks/objectness-training-set.ts [--scenes 2400] [--seed 101]
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '../core/config';
import { decodeImage } from '../core/image/decode';
import { FeatureMapModel } from '../core/localization/feature-map';
import { readLocalizerManifest } from '../core/localization/manifest';
import { createLogger } from '../core/logger';
import { createProgress } from '../core/progress';
import { seededRandom } from '../core/random';
import type { DevSet } from './lib/devset';
import { trainingBackgrounds, trainingClipart, trainingStamps } from './lib/objectness-sources';
import { composeScene } from './lib/scenes';

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1]! : fallback;
}

const CACHE = path.resolve(__dirname, '..', '.cache');
const PLAIN_DEVSET = path.join(CACHE, 'devset', 'pc100-q300-s7', 'devset.json');

export interface TrainingScene {
  width: number;
  height: number;
  mapWidth: number;
  mapHeight: number;
  offset: number;
  /** Each object's box as shares of the image: [left, top, width, height]. */
  boxes: Array<[number, number, number, number]>;
}

/** A drawing that sharp can read, at least 48 px a side and at most 8 MP (openclipart holds a few huge ones). */
async function usable(file: string): Promise<boolean> {
  const meta = await sharp(fs.readFileSync(file), { limitInputPixels: false }).metadata().catch(() => null);
  return !!meta?.width && !!meta.height && meta.width >= 48 && meta.height >= 48 && meta.width * meta.height <= 8_000_000;
}

async function main(): Promise<void> {
  const count = Number(argument('scenes', '2400'));
  const seed = Number(argument('seed', '101'));
  if (!fs.existsSync(PLAIN_DEVSET)) throw new Error(`${PLAIN_DEVSET} is missing: run npm run bench:localization once (it builds the plain dev set)`);
  const plainCatalog = (JSON.parse(fs.readFileSync(PLAIN_DEVSET, 'utf8')) as DevSet).catalog.map((c) => c.file);
  const stamps = await trainingStamps();
  const clipart = trainingClipart(plainCatalog);
  const backgrounds = trainingBackgrounds();
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn' });
  const maps = await FeatureMapModel.load(readLocalizerManifest(), config.onnx, createLogger(config));
  const directory = path.join(CACHE, 'objectness', `n${count}-seed${seed}`);
  fs.mkdirSync(directory, { recursive: true });
  const out = fs.openSync(path.join(directory, 'features.u8'), 'w');
  const random = seededRandom(seed);
  const scenes: TrainingScene[] = [];
  let offset = 0;
  let channels = 0;
  let largest = 0;
  const progress = createProgress('objectness training scenes');
  while (scenes.length < count) {
    const objects = [];
    const k = 1 + Math.floor(random() * 3);
    while (objects.length < k) {
      const pool = random() < 0.5 ? stamps : clipart;
      const file = pool[Math.floor(random() * pool.length)]!;
      if (!(await usable(file))) continue;
      objects.push({ stamp: { id: path.basename(file), file }, role: 'product' as const, size: 0.2 + random() * 0.4 });
    }
    const scene = await composeScene(objects, random, backgrounds);
    const image = await decodeImage(scene.jpeg);
    const map = await maps.map(image);
    channels = map.channels;
    for (const v of map.features) if (v > largest) largest = v;
    const bytes = new Uint8Array(map.features.length);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.min(255, Math.max(0, Math.round((map.features[i]! * 255) / 6)));
    fs.writeSync(out, bytes);
    const boxes = scene.placed.map(({ box }) => [box.left / scene.width, box.top / scene.height, box.width / scene.width, box.height / scene.height] as [number, number, number, number]);
    scenes.push({ width: scene.width, height: scene.height, mapWidth: map.width, mapHeight: map.height, offset, boxes });
    offset += bytes.length;
    progress.update(scenes.length, count);
  }
  progress.done();
  fs.closeSync(out);
  const sources = { stamps: stamps.length, clipart: clipart.length, backgrounds };
  fs.writeFileSync(path.join(directory, 'index.json'), JSON.stringify({ channels, largest, seed, sources, scenes }));
  await maps.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
