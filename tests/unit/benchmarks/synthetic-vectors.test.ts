import { seededRandom } from '../../../core/random';
import { gaussian, groupGaussian, ksDistance, nearestNeighbourDistances, shapeCheck } from '../../../benchmarks/lib/synthetic-vectors';

/** Unit rows around a few group centres, row-major. */
function clusteredRows(count: number, dims: number, groups: number, spread: number, seed: number): { rows: Float32Array; groups: string[] } {
  const centreNoise = gaussian(seededRandom(dims));
  const centres = Array.from({ length: groups }, () => Array.from({ length: dims }, () => centreNoise()));
  const noise = gaussian(seededRandom(seed));
  const rows = new Float32Array(count * dims);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const g = i % groups;
    names.push(`g${g}`);
    let norm = 0;
    for (let d = 0; d < dims; d++) {
      rows[i * dims + d] = centres[g]![d]! + spread * noise();
      norm += rows[i * dims + d]! ** 2;
    }
    for (let d = 0; d < dims; d++) rows[i * dims + d] = rows[i * dims + d]! / Math.sqrt(norm);
  }
  return { rows, groups: names };
}

describe('groupGaussian', () => {
  const a = clusteredRows(60, 16, 3, 0.4, 1);
  const b = clusteredRows(60, 8, 3, 0.4, 2);
  const options = { real: { a: a.rows, b: b.rows }, dims: { a: 16, b: 8 }, groups: a.groups, spread: [0.3, 1] as [number, number], modelSpread: { b: 0.5 }, seed: 9 };

  it('makes each product from its number alone, as unit vectors of every model', () => {
    const first = groupGaussian(options);
    const second = groupGaussian(options);
    // Product 500 is the same whether or not products before it were made, and in whichever order.
    const late = second.product(500);
    second.product(3);
    expect(first.product(500)).toEqual(late);
    for (const [model, vector] of Object.entries(late)) {
      expect(vector).toHaveLength(options.dims[model as 'a' | 'b']);
      expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
    }
    expect(first.product(501)).not.toEqual(late);
  });

  it('lies nearest its anchor, and among the real products of the anchor\'s group', () => {
    const generator = groupGaussian(options);
    let nearest = 0;
    let inGroup = 0;
    for (let i = 100; i < 200; i++) {
      const anchor = generator.anchor(i);
      const vector = generator.product(i).a!;
      const cosines = a.groups.map((_, j) => vector.reduce((sum, value, d) => sum + value * a.rows[j * 16 + d]!, 0));
      const mean = (values: number[]) => values.reduce((x, y) => x + y, 0) / values.length;
      if (cosines.indexOf(Math.max(...cosines)) === anchor) nearest++;
      if (mean(cosines.filter((_, j) => a.groups[j] === a.groups[anchor])) > mean(cosines.filter((_, j) => a.groups[j] !== a.groups[anchor]))) inGroup++;
    }
    expect(nearest).toBeGreaterThan(80);
    expect(inGroup).toBe(100);
  });
});

describe('shape check', () => {
  it('KS distance: 0 for one distribution, 1 for two that do not overlap', () => {
    expect(ksDistance([1, 2, 3], [3, 2, 1])).toBe(0);
    expect(ksDistance([1, 2, 3], [4, 5, 6])).toBe(1);
    expect(ksDistance([1, 2, 3, 4], [3, 4, 5, 6])).toBe(0.5);
  });

  it('nearest-neighbour distances: 0 for a duplicate, the cosine distance otherwise', () => {
    const rows = Float32Array.from([1, 0, 1, 0, 0, 1]);
    expect(nearestNeighbourDistances(rows, 2)).toEqual([0, 0, 1]);
  });

  it('tells a set shaped like the real one from a set spread much wider', () => {
    const real = clusteredRows(120, 16, 4, 0.3, 5);
    const alike = clusteredRows(120, 16, 4, 0.3, 6);
    const wide = clusteredRows(120, 16, 4, 3, 7);
    const close = shapeCheck({ a: real.rows }, { a: alike.rows }, { a: 16 });
    const far = shapeCheck({ a: real.rows }, { a: wide.rows }, { a: 16 });
    expect(close.summary.a!.ks).toBeLessThan(0.3);
    expect(far.summary.a!.ks).toBeGreaterThan(0.8);
    expect(far.summary.a!.generated[2]!).toBeGreaterThan(close.summary.a!.generated[2]!);
  });
});
