/**
 * What Lookalike decodes: JPEG, PNG, WebP, AVIF and GIF (first frame). The format is sniffed from the leading bytes
 * before any decoder sees the data, so SVG, PDF, TIFF, HEIC, text and anything else are refused without reaching
 * libvips; libvips' other loaders are blocked as well (see `restrictDecoders`).
 */
export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'avif' | 'gif';

const ascii = (bytes: Uint8Array, start: number, length: number): string =>
  String.fromCharCode(...bytes.subarray(start, start + length));

/** The format of `bytes` from its signature, or null for anything not accepted. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && bytes[0] === 0x89 && ascii(bytes, 1, 3) === 'PNG' && bytes[4] === 0x0d && bytes[5] === 0x0a && bytes[6] === 0x1a && bytes[7] === 0x0a) return 'png';
  if (bytes.length >= 6 && (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a')) return 'gif';
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return 'webp';
  if (bytes.length >= 16 && ascii(bytes, 4, 4) === 'ftyp') {
    // ISO-BMFF: the major brand or one of the compatible brands must be AVIF; HEIC (HEVC) is not accepted.
    const boxSize = Math.min(((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0, bytes.length, 256);
    for (let offset = 8; offset + 4 <= boxSize; offset += 4) {
      if (offset === 12) continue; // minor version
      const brand = ascii(bytes, offset, 4);
      if (brand === 'avif' || brand === 'avis') return 'avif';
    }
  }
  return null;
}

/** libvips' loaders that may run: the buffer loaders of the accepted formats. Every other loader is blocked. */
export const ALLOWED_LOADERS = [
  'VipsForeignLoadJpegBuffer',
  'VipsForeignLoadUhdrBuffer', // Ultra HDR JPEG (JPEG with a gain map)
  'VipsForeignLoadPngBuffer',
  'VipsForeignLoadWebpBuffer',
  'VipsForeignLoadNsgifBuffer',
  'VipsForeignLoadHeifBuffer', // AVIF only: sniffFormat refuses HEIC
];
