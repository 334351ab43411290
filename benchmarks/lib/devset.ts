import fs from 'node:fs';
import path from 'node:path';
import { createProgress } from '../../core/progress';
import { DISTORTIONS, distort, renderProduct, seeded, selectClipart, shuffle, type ClipartItem, type Distortion } from './clipart';

/**
 * The dev set: catalog photos of real drawings and photo-like queries made from some of them, written once under
 * .cache/devset/<name>/ and reused while its parameters stay the same.
 */
export interface DevSet {
  directory: string;
  catalog: Array<ClipartItem & { photo: string }>;
  queries: Array<{ item: string; category: string; distortion: Distortion; photo: string }>;
}

export interface DevSetOptions {
  perCategory: number;
  queryItems: number;
  seed: number;
}

export async function buildDevSet(root: string, options: DevSetOptions): Promise<DevSet> {
  const name = `pc${options.perCategory}-q${options.queryItems}-s${options.seed}`;
  const directory = path.join(root, name);
  const indexFile = path.join(directory, 'devset.json');
  if (fs.existsSync(indexFile)) return JSON.parse(fs.readFileSync(indexFile, 'utf8')) as DevSet;
  fs.mkdirSync(path.join(directory, 'catalog'), { recursive: true });
  fs.mkdirSync(path.join(directory, 'queries'), { recursive: true });
  const items = await selectClipart({ perCategory: options.perCategory, seed: options.seed, maxPixels: 8_000_000 });
  const catalog: DevSet['catalog'] = [];
  let progress = createProgress('dev set: catalog photos');
  for (const item of items) {
    const photo = path.join(directory, 'catalog', `${item.id}.jpg`);
    fs.writeFileSync(photo, await renderProduct(item.file));
    catalog.push({ ...item, photo });
    progress.update(catalog.length, items.length);
  }
  progress.done();
  const random = seeded(options.seed + 1);
  const chosen = shuffle(catalog, random).slice(0, options.queryItems);
  const queries: DevSet['queries'] = [];
  progress = createProgress('dev set: queries');
  for (const item of chosen) {
    const photoBytes = fs.readFileSync(item.photo);
    for (const distortion of DISTORTIONS) {
      const photo = path.join(directory, 'queries', `${item.id}-${distortion}.jpg`);
      fs.writeFileSync(photo, await distort(item.file, photoBytes, distortion, random));
      queries.push({ item: item.id, category: item.category, distortion, photo });
    }
    progress.update(queries.length, chosen.length * DISTORTIONS.length);
  }
  progress.done();
  const devset: DevSet = { directory, catalog, queries };
  fs.writeFileSync(indexFile, JSON.stringify(devset));
  return devset;
}
