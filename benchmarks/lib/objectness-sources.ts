import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CLIPART_ROOT } from './clipart';
import { BACKGROUND_PHOTOS, selectStampPhotos, STAMPS_ROOT } from './scene-sources';

/**
 * What the objectness head (core/localization/objectness.ts) is trained on, disjoint by construction from both dev
 * sets it is measured on:
 *
 * - objects: the tuxpaint stamps the in-scene dev set does NOT use (drawings, cartoons, symbols: every stamp that
 *   {@link selectStampPhotos} rejects, minus the mirrored/flipped copies of the ones it keeps and any file with the
 *   same bytes as a kept one), and openclipart-png drawings minus the plain dev set's catalog (same path or same bytes);
 * - backgrounds: every wallpaper on the machine that is not one of the dev set's 38 background photos nor another
 *   size of one (a plasma wallpaper folder the dev set uses is left out whole): the lomiri/mate/plasma renders and
 *   photos the dev set left out, and ukui-wallpapers (installed by scripts/install-scene-sources.sh).
 *
 * So no object photo and no background photo of the dev sets is ever seen in training.
 */
export interface ObjectnessSources {
  objects: string[];
  backgrounds: string[];
}

const sha1 = (file: string): string => createHash('sha1').update(fs.readFileSync(file)).digest('hex');

function walk(directory: string, extensions: RegExp): string[] {
  if (!fs.existsSync(directory)) return [];
  return fs.readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    return entry.isDirectory() ? walk(full, extensions) : extensions.test(entry.name) ? [full] : [];
  });
}

/** The stamp a mirrored or flipped copy was made from (`x_mirror.png` → `x.png`). */
const unmirrored = (file: string): string => file.replace(/_(mirror|flip)\.png$/, '.png');

/** Tuxpaint stamps outside the in-scene dev set (see the module comment). */
export async function trainingStamps(): Promise<string[]> {
  const used = await selectStampPhotos();
  const usedFiles = new Set(used.map((s) => s.file));
  const usedHashes = new Set(used.map((s) => sha1(s.file)));
  return walk(STAMPS_ROOT, /\.png$/)
    .sort()
    .filter((file) => !usedFiles.has(file) && !usedFiles.has(unmirrored(file)) && !usedHashes.has(sha1(file)));
}

/** Openclipart drawings outside the plain dev set's catalog (`plainCatalog`: its files). */
export function trainingClipart(plainCatalog: string[]): string[] {
  const usedFiles = new Set(plainCatalog);
  const usedHashes = new Set(plainCatalog.map(sha1));
  return walk(CLIPART_ROOT, /\.png$/)
    .sort()
    .filter((file) => !usedFiles.has(file) && !usedHashes.has(sha1(file)));
}

/** Wallpapers outside the dev set's backgrounds (see the module comment); one size per plasma wallpaper. */
export function trainingBackgrounds(): string[] {
  const used = new Set(BACKGROUND_PHOTOS);
  const usedHashes = new Set(BACKGROUND_PHOTOS.map(sha1));
  const usedFolders = new Set(BACKGROUND_PHOTOS.filter((f) => f.startsWith('/usr/share/wallpapers/')).map((f) => f.split('/')[4]));
  const plain = walk('/usr/share/backgrounds', /\.(jpe?g|png)$/i);
  const plasma = fs.existsSync('/usr/share/wallpapers')
    ? fs
        .readdirSync('/usr/share/wallpapers')
        .filter((folder) => !usedFolders.has(folder))
        .flatMap((folder) => {
          // The largest size up to 2560 px wide: all sizes are the same picture.
          const sizes = walk(path.join('/usr/share/wallpapers', folder, 'contents', 'images'), /\.(jpe?g|png)$/i);
          const width = (f: string): number => Number(path.basename(f).split('x')[0]) || 0;
          const fitting = sizes.filter((f) => width(f) <= 2560).sort((a, b) => width(b) - width(a));
          return fitting.length > 0 ? [fitting[0]!] : sizes.slice(0, 1);
        })
    : [];
  return [...plain, ...plasma].sort().filter((file) => !used.has(file) && !usedHashes.has(sha1(file)));
}
