import { parseSearchBody } from '../../../../core/search/search-request';

describe('parseSearchBody', () => {
  it('refuses base64 longer than the largest image with 413 image_too_large, as an upload of that size is', () => {
    const tooLong = 'A'.repeat(Math.ceil((1000 * 4) / 3) + 8);
    expect(() => parseSearchBody({ image_base64: tooLong }, 1000)).toThrow(expect.objectContaining({ code: 'image_too_large', status: 413 }));
    expect(parseSearchBody({ image_base64: 'A'.repeat(1000) }, 1000).source.kind).toBe('image');
  });
});
