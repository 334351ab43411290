import { batchLimit, normalise, pool } from '../../../../core/embedding/onnx-model';

describe('pooling and normalisation', () => {
  it('passes [N,D] through', () => {
    expect(pool(Float32Array.from([1, 2, 3, 4]), [2, 2], 2, 'none', 'm').map((v) => [...v])).toEqual([[1, 2], [3, 4]]);
  });

  it('averages [N,C,H,W] feature maps over H·W', () => {
    // One image, 2 channels, 2×1 maps.
    expect([...pool(Float32Array.from([1, 3, 10, 20]), [1, 2, 2, 1], 1, 'mean', 'm')[0]!]).toEqual([2, 15]);
  });

  it('averages [N,T,D] tokens, or takes the first (cls)', () => {
    const tokens = Float32Array.from([1, 2, 3, 4, 5, 6]); // 1 image, 3 tokens of 2
    expect([...pool(tokens, [1, 3, 2], 1, 'mean', 'm')[0]!]).toEqual([3, 4]);
    expect([...pool(tokens, [1, 3, 2], 1, 'cls', 'm')[0]!]).toEqual([1, 2]);
  });

  it('L2-normalises and rejects NaN, zero and wrong-length vectors', () => {
    const unit = normalise(Float32Array.from([3, 4]), 'm', 2);
    expect(unit[0]).toBeCloseTo(0.6, 6);
    expect(unit[1]).toBeCloseTo(0.8, 6);
    expect(() => normalise(Float32Array.from([NaN, 1]), 'm', 2)).toThrow(/NaN/);
    expect(() => normalise(Float32Array.from([Infinity, 1]), 'm', 2)).toThrow(/NaN or infinity/);
    expect(() => normalise(Float32Array.from([0, 0]), 'm', 2)).toThrow(/all zeros/);
    expect(() => normalise(Float32Array.from([1, 0, 0]), 'm', 2)).toThrow(/3 values, expected 2/);
    expect(() => pool(Float32Array.from([1, 2]), [1, 2], 2, 'none', 'm')).toThrow(/batch/);
  });
});

describe('batchLimit', () => {
  it('is EMBED_MAX_BATCH when set, else 4 on CPU and 32 on CUDA, never above the manifest', () => {
    expect(batchLimit(0, 'cpu')).toBe(4);
    expect(batchLimit(0, 'cuda')).toBe(32);
    expect(batchLimit(16, 'cpu')).toBe(16);
    expect(batchLimit(0, 'cuda', 8)).toBe(8);
    expect(batchLimit(64, 'cpu', 32)).toBe(32);
  });
});
