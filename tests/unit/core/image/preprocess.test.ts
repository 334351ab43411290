import { modelView, resizeForModel, writeTensor, type ModelInputSpec } from '../../../../core/image/preprocess';

const spec = (overrides: Partial<ModelInputSpec> = {}): ModelInputSpec => ({
  width: 4, height: 2, layout: 'NCHW', colorOrder: 'RGB', resize: 'stretch', scale: 1, mean: [0, 0, 0], std: [1, 1, 1], padColor: [255, 255, 255], ...overrides,
});

/** An 8×4 image: left half (10,20,30), right half (200,100,50). */
function halves(): { data: Buffer; width: number; height: number } {
  const data = Buffer.alloc(8 * 4 * 3);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 8; x++) data.set(x < 4 ? [10, 20, 30] : [200, 100, 50], (y * 8 + x) * 3);
  return { data, width: 8, height: 4 };
}

describe('preprocessing', () => {
  it('writes NCHW planes with (v·scale − mean) / std', () => {
    const pixels = Uint8Array.from([10, 20, 30, 200, 100, 50]);
    const target = new Float32Array(2 * 3 * 2).fill(-1);
    writeTensor(pixels, spec({ width: 2, height: 1, scale: 1, mean: [127, 127, 127], std: [128, 128, 128] }), target, 1);
    expect([...target.subarray(0, 6)]).toEqual([-1, -1, -1, -1, -1, -1]);
    expect([...target.subarray(6)].map((v) => Math.round(v * 1e4) / 1e4)).toEqual(
      [10, 200, 20, 100, 30, 50].map((v) => Math.round(((v - 127) / 128) * 1e4) / 1e4),
    );
  });

  it('writes NHWC and BGR when the model asks for it', () => {
    const pixels = Uint8Array.from([10, 20, 30, 200, 100, 50]);
    const target = new Float32Array(6);
    writeTensor(pixels, spec({ width: 2, height: 1, layout: 'NHWC', colorOrder: 'BGR', scale: 1 / 255 }), target, 0);
    expect([...target].map((v) => Math.round(v * 255))).toEqual([30, 20, 10, 50, 100, 200]);
  });

  it('short side + centre crop keeps the centre', async () => {
    // 30×10 in three bands; the short side is already 10, so this is a pure centre crop: the middle band.
    const data = Buffer.alloc(30 * 10 * 3);
    for (let y = 0; y < 10; y++) for (let x = 0; x < 30; x++) data.set(x < 10 ? [255, 0, 0] : x < 20 ? [0, 255, 0] : [0, 0, 255], (y * 30 + x) * 3);
    const pixels = await resizeForModel({ data, width: 30, height: 10 }, null, spec({ width: 10, height: 10, resize: 'crop', resizeShortSide: 10 }));
    expect(pixels.length).toBe(10 * 10 * 3);
    for (let p = 0; p < 100; p++) expect([...pixels.subarray(p * 3, p * 3 + 3)]).toEqual([0, 255, 0]);
  });

  it('letterboxes with the pad colour, and crops to the given box first', async () => {
    const boxed = await resizeForModel(halves(), null, spec({ width: 8, height: 8, resize: 'letterbox', padColor: [1, 2, 3] }));
    expect([...boxed.subarray(0, 3)]).toEqual([1, 2, 3]);
    const cropped = await resizeForModel(halves(), { left: 4, top: 0, width: 4, height: 4 }, spec({ width: 2, height: 2 }));
    expect([...cropped.subarray(0, 3)]).toEqual([200, 100, 50]);
  });

  it('says which part of a region a model sees (modelView)', () => {
    const region = { left: 10, top: 20, width: 400, height: 256 };
    // Short side to 256, centre 224: the centred square of 224 px.
    expect(modelView(region, { width: 224, resize: 'crop', resizeShortSide: 256 })).toEqual({ left: 98, top: 36, width: 224, height: 224 });
    expect(modelView(region, { width: 224, resize: 'crop' })).toEqual({ left: 82, top: 20, width: 256, height: 256 });
    expect(modelView(region, { width: 224, resize: 'letterbox' })).toEqual(region);
  });
});

