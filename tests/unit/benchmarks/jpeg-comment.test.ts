import sharp from 'sharp';
import { withJpegComment } from '../../../benchmarks/lib/jpeg-comment';

describe('withJpegComment', () => {
  it('keeps the pixels and the JPEG valid, and changes the bytes', async () => {
    const jpeg = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#cc3300' } }).jpeg().toBuffer();
    const tagged = withJpegComment(jpeg, 'lookalike-bench-7');
    expect(tagged.equals(jpeg)).toBe(false);
    expect(tagged.subarray(0, 4).toString('hex')).toBe('ffd8fffe');
    expect(tagged.readUInt16BE(4)).toBe('lookalike-bench-7'.length + 2);
    expect((await sharp(tagged).raw().toBuffer()).equals(await sharp(jpeg).raw().toBuffer())).toBe(true);
  });
});
