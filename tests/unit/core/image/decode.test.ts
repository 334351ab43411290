import sharp, { type Sharp } from 'sharp';
import { decodeImage, DEFAULT_DECODE_LIMITS, type DecodedImage } from '../../../../core/image/decode';
import { sniffFormat } from '../../../../core/image/formats';
import { markerImage, pixelFloodPng, PDF, SVG, TEXT } from '../../../fixtures/images';

/** Mean colour of a quadrant of the decoded image (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right). */
function quadrantRed(image: DecodedImage, quadrant: number): number {
  const x0 = quadrant % 2 === 0 ? 0 : Math.floor(image.width / 2);
  const y0 = quadrant < 2 ? 0 : Math.floor(image.height / 2);
  let sum = 0;
  let n = 0;
  for (let y = y0; y < y0 + Math.floor(image.height / 2); y++) {
    for (let x = x0; x < x0 + Math.floor(image.width / 2); x++) {
      const p = (y * image.width + x) * 3;
      sum += image.data[p]! - image.data[p + 1]!; // red minus green: high only for the red block
      n++;
    }
  }
  return sum / n;
}

describe('decodeImage: accepted formats', () => {
  const cases: Array<[string, (s: Sharp) => Sharp]> = [
    ['jpeg', (s) => s.jpeg()],
    ['png', (s) => s.png()],
    ['webp', (s) => s.webp()],
    ['avif', (s) => s.avif()],
    ['gif', (s) => s.gif()],
  ];
  it.each(cases)('%s decodes to 8-bit RGB with its size and content', async (format, encode) => {
    const bytes = await encode(await markerImage()).toBuffer();
    expect(sniffFormat(bytes)).toBe(format);
    const image = await decodeImage(bytes);
    expect(image).toMatchObject({ format, width: 60, height: 40, originalWidth: 60, originalHeight: 40 });
    expect(image.data.length).toBe(60 * 40 * 3);
    expect(quadrantRed(image, 0)).toBeGreaterThan(150);
    expect(quadrantRed(image, 3)).toBeLessThan(20);
    expect(image.contentHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('takes the first frame of an animated GIF', async () => {
    const frames = await sharp({ create: { width: 20, height: 60, channels: 3, background: { r: 0, g: 200, b: 0 } } }).png().toBuffer();
    const animated = await sharp(frames, { animated: false }).gif().toBuffer();
    const image = await decodeImage(animated);
    expect(image.format).toBe('gif');
    expect(image.height).toBe(60);
  });

  // Orientation tag → where the top-left block is displayed, and whether width and height swap.
  const orientations: Array<[number, number, boolean]> = [
    [1, 0, false], [2, 1, false], [3, 3, false], [4, 2, false],
    [5, 0, true], [6, 1, true], [7, 3, true], [8, 2, true],
  ];
  it.each(orientations)('applies EXIF orientation %i', async (orientation, quadrant, swapped) => {
    const bytes = await (await markerImage()).jpeg({ quality: 95 }).withMetadata({ orientation }).toBuffer();
    const image = await decodeImage(bytes);
    expect([image.width, image.height]).toEqual(swapped ? [40, 60] : [60, 40]);
    expect([image.originalWidth, image.originalHeight]).toEqual(swapped ? [40, 60] : [60, 40]);
    for (let q = 0; q < 4; q++) {
      if (q === quadrant) expect(quadrantRed(image, q)).toBeGreaterThan(150);
      else expect(quadrantRed(image, q)).toBeLessThan(30);
    }
  });

  it('flattens alpha onto white', async () => {
    const bytes = await sharp({ create: { width: 10, height: 10, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const image = await decodeImage(bytes);
    expect([...image.data.subarray(0, 3)]).toEqual([255, 255, 255]);
  });

  it('converts CMYK, 16-bit and grayscale to 8-bit sRGB', async () => {
    const base = () => sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 200, g: 40, b: 40 } } });
    const cmyk = await decodeImage(await base().toColourspace('cmyk').jpeg().toBuffer());
    expect(cmyk.data.length).toBe(32 * 32 * 3);
    expect(cmyk.data[0]!).toBeGreaterThan(cmyk.data[1]! + 100);
    const deep = await decodeImage(await base().toColourspace('rgb16').png().toBuffer());
    expect([...deep.data.subarray(0, 3)]).toEqual([200, 40, 40]);
    const grey = await decodeImage(await base().greyscale().png().toBuffer());
    expect(grey.data[0]).toBe(grey.data[1]);
    expect(grey.data.length).toBe(32 * 32 * 3);
  });

  it('shrinks large images to the working size, keeping the original size for crop boxes', async () => {
    const bytes = await sharp({ create: { width: 2400, height: 1600, channels: 3, background: '#336699' } }).jpeg().toBuffer();
    const image = await decodeImage(bytes, { ...DEFAULT_DECODE_LIMITS, workingSize: 300 });
    expect([image.width, image.height, image.originalWidth, image.originalHeight]).toEqual([300, 200, 2400, 1600]);
  });
});

describe('decodeImage: refused inputs get their documented codes', () => {
  it.each([
    ['empty', Buffer.alloc(0), 'empty_image', 400],
    ['text', TEXT, 'unsupported_image', 415],
    ['SVG', SVG, 'unsupported_image', 415],
    ['PDF', PDF, 'unsupported_image', 415],
  ])('%s', async (_name, bytes, code, status) => {
    await expect(decodeImage(bytes)).rejects.toMatchObject({ code, status });
  });

  it('TIFF', async () => {
    const tiff = await (await markerImage()).tiff().toBuffer();
    await expect(decodeImage(tiff)).rejects.toMatchObject({ code: 'unsupported_image', status: 415 });
  });

  it('too many bytes (before decoding)', async () => {
    const bytes = await (await markerImage()).png().toBuffer();
    await expect(decodeImage(bytes, { ...DEFAULT_DECODE_LIMITS, maxBytes: 100 })).rejects.toMatchObject({ code: 'image_too_large', status: 413 });
  });

  it('a pixel flood (dimensions beyond the limit)', async () => {
    await expect(decodeImage(pixelFloodPng())).rejects.toMatchObject({ code: 'image_dimensions_too_large', status: 413 });
  });

  it('truncated and corrupt data', async () => {
    const jpeg = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#884422' } }).jpeg().toBuffer();
    await expect(decodeImage(jpeg.subarray(0, jpeg.length >> 1))).rejects.toMatchObject({ code: 'corrupt_image', status: 422 });
    const corrupt = Buffer.from(jpeg);
    for (let i = 180; i < corrupt.length - 4; i++) corrupt[i] = (i * 131) & 0xff;
    await expect(decodeImage(corrupt)).rejects.toMatchObject({ code: 'corrupt_image', status: 422 });
    const png = await (await markerImage()).png().toBuffer();
    await expect(decodeImage(png.subarray(0, 60))).rejects.toMatchObject({ code: 'corrupt_image' });
  });

  it('HEIC (an ISO-BMFF file that is not AVIF) is refused by the sniffer', () => {
    const heic = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic\0\0\0\0mif1heic')]);
    expect(sniffFormat(heic)).toBeNull();
  });

  it('the process stays up: many bad inputs in parallel all reject cleanly', async () => {
    const jpeg = await (await markerImage()).jpeg().toBuffer();
    // Every proper prefix of the file: each is truncated somewhere between the signature and the last marker.
    const inputs = Array.from({ length: 39 }, (_, i) => jpeg.subarray(0, Math.floor((jpeg.length * (i + 1)) / 40)));
    const results = await Promise.allSettled(inputs.map((bytes) => decodeImage(bytes)));
    for (const result of results) {
      expect(result.status).toBe('rejected');
      if (result.status === 'rejected') expect(['corrupt_image', 'unsupported_image']).toContain((result.reason as { code: string }).code);
    }
  });
});
