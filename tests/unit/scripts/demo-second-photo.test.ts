import sharp from 'sharp';
import { secondPhoto, secondPhotoName } from '../../../scripts/demo-stack';

describe('the demo catalog’s second photo of a product', () => {
  it('is the first mirrored, closer, on a beige background, at the same size', async () => {
    // A red square in the left half on white: mirrored, it is in the right half.
    const red = await sharp({ create: { width: 20, height: 20, channels: 3, background: '#ff0000' } }).png().toBuffer();
    const first = await sharp({ create: { width: 100, height: 100, channels: 3, background: '#ffffff' } }).composite([{ input: red, left: 15, top: 40 }]).jpeg().toBuffer();
    const second = await secondPhoto(first);
    expect(await sharp(second).metadata()).toMatchObject({ width: 100, height: 100, format: 'jpeg' });
    const { data } = await sharp(second).raw().toBuffer({ resolveWithObject: true });
    const pixel = (x: number, y: number) => [...data.subarray((y * 100 + x) * 3, (y * 100 + x) * 3 + 3)];
    const near = (actual: number[], expected: number[]) => actual.every((v, i) => Math.abs(v - expected[i]!) <= 12);
    expect(near(pixel(2, 2), [236, 228, 212])).toBe(true);
    expect(pixel(75, 50)[0]! > 180 && pixel(75, 50)[1]! < 80).toBe(true);
    expect(pixel(25, 50)[1]! > 180).toBe(true);
    expect(secondPhotoName('sku-1')).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});
