import sharp from 'sharp';
import { findCrop, scaleBox, trimBox } from '../../../../core/image/autocrop';
import { decodeImage } from '../../../../core/image/decode';
import { productOnBackground } from '../../../fixtures/images';

describe('autocrop', () => {
  it('trims a product on white to the product, with a small margin', async () => {
    const image = await decodeImage(await productOnBackground({ width: 400, height: 300 }));
    const box = trimBox(image)!;
    // The product: x 140..300, y 90..240.
    expect(box.left).toBeGreaterThanOrEqual(130);
    expect(box.left).toBeLessThanOrEqual(140);
    expect(box.top).toBeGreaterThanOrEqual(82);
    expect(box.top).toBeLessThanOrEqual(90);
    expect(box.left + box.width).toBeGreaterThanOrEqual(300);
    expect(box.left + box.width).toBeLessThanOrEqual(310);
    expect(box.top + box.height).toBeGreaterThanOrEqual(240);
  });

  it('trims on any uniform background colour (an item lying on a table)', async () => {
    const image = await decodeImage(await productOnBackground({ background: { r: 150, g: 110, b: 70 }, shape: { r: 240, g: 240, b: 240 } }));
    expect(trimBox(image)).not.toBeNull();
  });

  it('keeps the whole image when the border is not uniform (a busy photo)', async () => {
    const noise = Buffer.alloc(200 * 150 * 3);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) % 251;
    const jpeg = await sharp(noise, { raw: { width: 200, height: 150, channels: 3 } }).jpeg().toBuffer();
    expect(trimBox(await decodeImage(jpeg))).toBeNull();
  });

  it('guards against over-trimming: a speck is not a product', async () => {
    const dot = await sharp({ create: { width: 3, height: 3, channels: 3, background: '#000000' } }).png().toBuffer();
    const jpeg = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#ffffff' } }).composite([{ input: dot, left: 150, top: 150 }]).png().toBuffer();
    expect(trimBox(await decodeImage(jpeg))).toBeNull();
  });

  it('keeps the whole image when the product fills it', async () => {
    const full = await sharp({ create: { width: 120, height: 90, channels: 3, background: '#aa3355' } }).png().toBuffer();
    expect(trimBox(await decodeImage(full))).toBeNull();
  });

  it('attention crops a wide image to a square around the salient part, and none means none', async () => {
    const image = await decodeImage(await productOnBackground({ width: 480, height: 160 }));
    const box = (await findCrop(image, 'attention'))!;
    expect(box.width).toBe(160);
    expect(box.height).toBe(160);
    // The product sits at x 168..360: the square must overlap it.
    expect(box.left).toBeLessThan(360);
    expect(box.left + box.width).toBeGreaterThan(168);
    expect(await findCrop(image, 'none')).toBeNull();
  });

  it('scales a box from the working image to the original', () => {
    expect(scaleBox({ left: 10, top: 20, width: 100, height: 50 }, { width: 500, height: 250 }, { width: 2000, height: 1000 })).toEqual({ left: 40, top: 80, width: 400, height: 200 });
  });
});
