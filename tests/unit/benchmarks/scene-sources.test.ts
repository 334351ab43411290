import { looksLikePhoto } from '../../../benchmarks/lib/scene-sources';

describe('looksLikePhoto', () => {
  const photo = { width: 200, height: 150, transparentBorder: 0.95, opaque: 0.5, colours: 9000, top16: 0.02 };

  it('accepts a cut-out with many colours spread over many pixels', () => {
    expect(looksLikePhoto(photo)).toBe(true);
  });

  it('rejects drawings (few colours, flat fills), rectangles and thumbnails', () => {
    expect(looksLikePhoto({ ...photo, colours: 300 })).toBe(false);
    expect(looksLikePhoto({ ...photo, top16: 0.6 })).toBe(false);
    expect(looksLikePhoto({ ...photo, transparentBorder: 0.1 })).toBe(false);
    expect(looksLikePhoto({ ...photo, width: 50, height: 40 })).toBe(false);
  });
});
