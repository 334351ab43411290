import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

/**
 * The real photos the in-scene dev set is made of, all from Debian packages (installed by
 * scripts/install-scene-sources.sh; the images are never committed):
 *
 * - objects: tuxpaint-stamps-default (GPL-2), photos of isolated objects cut out with transparency. The package also
 *   holds drawings; {@link selectStampPhotos} keeps photos only (see there).
 * - backgrounds: the photographs among four wallpaper packages (drawings and renders left out by name, after looking
 *   at every file): lomiri-wallpapers-16.04/-20.04 (CC-BY-4.0 / CC-BY-SA-4.0), mate-backgrounds' nature folder
 *   (GPL-2+), plasma-workspace-wallpapers (LGPL-3 / CC-BY-SA-4.0).
 *
 * Files are read into buffers before sharp sees them (see clipart.ts: the decoder allow-list blocks file loaders).
 */
export const STAMPS_ROOT = '/usr/share/tuxpaint/stamps';

export const SCENE_PACKAGES = ['tuxpaint-stamps-default', 'lomiri-wallpapers-16.04', 'lomiri-wallpapers-20.04', 'mate-backgrounds', 'plasma-workspace-wallpapers'];

const LOMIRI = [
  'Bridge_by_Sander_Klootwijk', 'Dragonfly_by_Bolly', 'Picture_0B_by_freespace', 'Picture_1A_by_freespace', 'Wine_by_Jakkub_Mede',
  'aitzgorri_by_Aitzol_Berasategi', 'free_by_Peter_Nerlich', 'friends_by_Aitzol_Berasategi', 'greentock_by_Peter_Nerlich',
  'life_by_Aitzol_Berasategi', 'picosdeeuropa_by_Aitzol_Berasategi', 'seeding_by_Clements_Engelhardt', 'sunset_by_Aitzol_Berasategi',
  'Kleiber_by_Lukas_Baubkus',
].map((name) => `/usr/share/backgrounds/${name}.jpg`);
const MATE = ['Aqua', 'Blinds', 'Dune', 'FreshFlower', 'Garden', 'GreenMeadow', 'LadyBird', 'RainDrops', 'Storm', 'TwoWings', 'Wood', 'YellowFlower'].map(
  (name) => `/usr/share/backgrounds/mate/nature/${name}.jpg`,
);
const PLASMA = ['BytheWater', 'ColdRipple', 'ColorfulCups:2560x1600', 'DarkestHour', 'EveningGlow', 'FallenLeaf', 'Grey', 'Kite', 'OneStandsOut', 'Path', 'Volna:5120x2880', 'summer_1am'].map(
  (entry) => {
    const [name, size] = entry.split(':');
    return `/usr/share/wallpapers/${name}/contents/images/${size ?? '1920x1080'}.jpg`;
  },
);

/** The background photographs (38). */
export const BACKGROUND_PHOTOS: readonly string[] = [...LOMIRI, ...MATE, ...PLASMA];

export interface Stamp {
  id: string;
  file: string;
  /** Top-level folder: animals, food, household … */
  category: string;
  /** The stamp's folder below the root (food/fruit): distractors come from another one. */
  subcategory: string;
}

/** Folders of drawings (or of near-identical items) and stamps that pass the colour test but are drawings. */
const EXCLUDED_FOLDERS = ['symbols', 'seasonal/easter'];
const EXCLUDED_DRAWINGS = new Set(['clothes/button.png', 'space/planets/6_saturn.png']);

/** Colour statistics that tell a cut-out photo from a drawing. */
export interface StampStatistics {
  width: number;
  height: number;
  /** Share of the border pixels that are transparent: a cut-out object, not a rectangle. */
  transparentBorder: number;
  /** Share of all pixels that are opaque. */
  opaque: number;
  /** Distinct colours among opaque pixels. */
  colours: number;
  /** Share of opaque pixels in the 16 most frequent colours: flat fills of drawings put most pixels there. */
  top16: number;
}

export async function stampStatistics(bytes: Buffer): Promise<StampStatistics> {
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  let opaque = 0;
  let border = 0;
  let transparent = 0;
  const counts = new Map<number, number>();
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const alpha = data[i + 3]!;
      if (x === 0 || y === 0 || x === width - 1 || y === height - 1) {
        border++;
        if (alpha < 16) transparent++;
      }
      if (alpha < 200) continue;
      opaque++;
      const key = (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  const top = [...counts.values()].sort((a, b) => b - a).slice(0, 16).reduce((a, b) => a + b, 0);
  return { width, height, transparentBorder: transparent / border, opaque: opaque / (width * height), colours: counts.size, top16: top / Math.max(1, opaque) };
}

/**
 * A photo, by its colours: a cut-out (≥ 50 % of the border transparent, ≥ 5 % opaque), ≥ 1500 distinct colours with at
 * most 12 % of the pixels in the 16 most frequent ones (drawings: a few hundred colours, 30–95 % in the top 16), and
 * at least 60 px on its long side (smaller stamps are thumbnails too blurred to be a product photo).
 */
export function looksLikePhoto(s: StampStatistics): boolean {
  return s.transparentBorder >= 0.5 && s.opaque >= 0.05 && s.colours >= 1500 && s.top16 <= 0.12 && Math.max(s.width, s.height) >= 60;
}

function walk(directory: string): string[] {
  return fs.readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    return entry.isDirectory() ? walk(full) : entry.name.endsWith('.png') ? [full] : [];
  });
}

/**
 * The stamps that are photos: not in a `cartoon` folder or an excluded one, not a mirrored copy, passing
 * {@link looksLikePhoto}, not one of the two drawings that pass it, and distinct in content (byte hash).
 */
export async function selectStampPhotos(): Promise<Stamp[]> {
  if (!fs.existsSync(STAMPS_ROOT)) throw new Error(`${STAMPS_ROOT} is missing: run scripts/install-scene-sources.sh`);
  const seen = new Set<string>();
  const stamps: Stamp[] = [];
  for (const file of walk(STAMPS_ROOT).sort()) {
    const relative = path.relative(STAMPS_ROOT, file);
    const parts = relative.split(path.sep);
    if (parts.includes('cartoon') || /_(mirror|flip)\.png$/.test(file) || EXCLUDED_DRAWINGS.has(relative)) continue;
    if (EXCLUDED_FOLDERS.some((folder) => relative.startsWith(`${folder}/`))) continue;
    const bytes = fs.readFileSync(file);
    const hash = createHash('sha1').update(bytes).digest('hex');
    if (seen.has(hash)) continue;
    if (!looksLikePhoto(await stampStatistics(bytes))) continue;
    seen.add(hash);
    stamps.push({ id: `${parts[0]}-${hash.slice(0, 10)}`, file, category: parts[0]!, subcategory: path.dirname(relative) });
  }
  return stamps;
}
