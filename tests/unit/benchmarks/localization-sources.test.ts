import type { FeatureMaps } from '../../../benchmarks/lib/feature-map';
import { pooledVector } from '../../../benchmarks/lib/localization-eval';
import { pooledScores } from '../../../benchmarks/lib/localization-sources';

/** A seeded generator, so that the maps and items are the same every run. */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

describe('pooledScores', () => {
  it('gives each box the best cosine of its pooled vector with the items, as pooledVector and a dot product do', () => {
    const random = generator(3);
    const [width, height, channels, count] = [7, 5, 16, 4];
    // Zero cells as well (ReLU6 maps are sparse), which the fast path skips.
    const features = Float32Array.from({ length: channels * width * height }, () => (random() < 0.3 ? 0 : random() * 6));
    const maps: FeatureMaps = { width, height, channels, features, statistics: {} as FeatureMaps['statistics'] };
    const items = new Float32Array(count * channels);
    for (let i = 0; i < count; i++) {
      const row = items.subarray(i * channels, (i + 1) * channels);
      row.forEach((_, c) => (row[c] = random() - 0.5));
      const norm = Math.hypot(...row);
      row.forEach((v, c) => (row[c] = v / norm));
    }
    const image = { width: 350, height: 250 };
    const boxes = [
      { left: 0, top: 0, width: 350, height: 250 },
      { left: 60, top: 40, width: 120, height: 90 },
      { left: 300, top: 200, width: 10, height: 10 },
      { left: 100, top: 0, width: 5, height: 250 },
    ];
    const scores = pooledScores(maps, boxes, image, items, count);
    boxes.forEach((box, b) => {
      const vector = pooledVector(maps, box, image);
      const expected = Math.max(...Array.from({ length: count }, (_, i) => vector.reduce((sum, v, c) => sum + v * items[i * channels + c]!, 0)));
      expect(scores[b]).toBeCloseTo(expected, 5);
    });
  });
});
