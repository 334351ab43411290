import { decodeRegions, describeRegions, encodeRegions, featureMapInBox, regionFeatures, regionProjection, regionSimilarity } from '../../../../core/rerank/regions';
import { seededRandom } from '../../../../core/random';

const CHANNELS = 256;

/** A feature map, channels first, whose cells are the given channel profiles (non-negative, as after ReLU6). */
function featureMap(cells: Float32Array[]): Float32Array {
  const map = new Float32Array(CHANNELS * cells.length);
  cells.forEach((cell, i) => cell.forEach((value, c) => (map[c * cells.length + i] = value)));
  return map;
}

function randomCell(random: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: CHANNELS }, () => (random() < 0.3 ? random() * 6 * scale : 0));
}

describe('region descriptors', () => {
  const projection = regionProjection(CHANNELS, 64);

  it('projects the same way for the same arguments, sparsely', () => {
    const again = regionProjection(CHANNELS, 64);
    expect(again.plus.map((p) => Array.from(p))).toEqual(projection.plus.map((p) => Array.from(p)));
    expect(again.minus.map((m) => Array.from(m))).toEqual(projection.minus.map((m) => Array.from(m)));
    const used = projection.plus.reduce((n, p) => n + p.length, 0) + projection.minus.reduce((n, m) => n + m.length, 0);
    expect(used / (CHANNELS * 64)).toBeGreaterThan(1 / 64);
    expect(used / (CHANNELS * 64)).toBeLessThan(1 / 16);
    expect(regionProjection(CHANNELS, 64, 7).plus.map((p) => Array.from(p))).not.toEqual(projection.plus.map((p) => Array.from(p)));
  });

  it('weights cells by their activation and stores unit vectors as int8', () => {
    const random = seededRandom(1);
    const strong = randomCell(random, 2);
    const weak = randomCell(random, 0.5);
    const descriptor = describeRegions(featureMap([strong, weak, new Float32Array(CHANNELS)]), 3, projection);
    expect(descriptor.weights[0]).toBe(255);
    expect(descriptor.weights[1]).toBeGreaterThan(0);
    expect(descriptor.weights[1]).toBeLessThan(255);
    expect(descriptor.weights[2]).toBe(0);
    for (const cell of [0, 1]) {
      const norm = Math.hypot(...descriptor.vectors.subarray(cell * 64, (cell + 1) * 64));
      expect(norm).toBeGreaterThan(120);
      expect(norm).toBeLessThan(134);
    }
  });

  it('reads one image of a batch from its offset', () => {
    const random = seededRandom(2);
    const first = featureMap([randomCell(random), randomCell(random)]);
    const second = featureMap([randomCell(random), randomCell(random)]);
    const batch = new Float32Array(first.length + second.length);
    batch.set(first);
    batch.set(second, first.length);
    expect(describeRegions(batch, 2, projection, first.length)).toEqual(describeRegions(second, 2, projection));
    expect(() => describeRegions(first, 2, projection, first.length)).toThrow(RangeError);
  });

  it('round-trips through its stored form, and refuses what it cannot read', () => {
    const random = seededRandom(3);
    const descriptor = describeRegions(featureMap([randomCell(random), randomCell(random), randomCell(random)]), 3, projection);
    const encoded = encodeRegions(descriptor);
    expect(decodeRegions(encoded)).toEqual(descriptor);
    const bytes = Buffer.from(encoded, 'base64');
    expect(decodeRegions(bytes.subarray(0, bytes.length - 1).toString('base64'))).toBeNull();
    const otherFormat = Buffer.from(bytes);
    otherFormat[0] = 9;
    expect(decodeRegions(otherFormat.toString('base64'))).toBeNull();
    expect(decodeRegions('')).toBeNull();
  });

  it('finds a photo of the whole item more similar than a close-up of its part', () => {
    const random = seededRandom(4);
    // The item: 9 cells of distinct parts. Its own photo shows the same parts (a little changed); a close-up shows
    // three of its parts, each enlarged into cells that look unlike any cell of the whole.
    const parts = Array.from({ length: 9 }, () => randomCell(random));
    const jitter = (cell: Float32Array) => cell.map((value) => value * (0.9 + 0.2 * random()));
    const query = describeRegions(featureMap(parts.map(jitter)), 9, projection);
    const whole = describeRegions(featureMap(parts.map(jitter)), 9, projection);
    const closeup = describeRegions(featureMap([...parts.slice(0, 3).map(jitter), ...Array.from({ length: 6 }, () => randomCell(random))]), 9, projection);
    const wholeScore = regionSimilarity(query, whole);
    expect(wholeScore).toBeGreaterThan(0.9);
    expect(regionSimilarity(query, closeup)).toBeLessThan(wholeScore - 0.2);
    expect(regionSimilarity(query, query)).toBeCloseTo(1, 2);
  });

  it('cannot compare descriptors of different sizes', () => {
    const random = seededRandom(5);
    const a = describeRegions(featureMap([randomCell(random)]), 1, projection);
    const b = describeRegions(featureMap([randomCell(random)]), 1, regionProjection(CHANNELS, 32));
    expect(regionSimilarity(a, b)).toBeNaN();
  });

  it('counts matches in place only where they lie near the same cell of the other grid', () => {
    const random = seededRandom(6);
    const parts = Array.from({ length: 9 }, () => randomCell(random));
    const query = describeRegions(featureMap(parts), 9, projection);
    const same = regionFeatures(query, describeRegions(featureMap(parts), 9, projection));
    expect(same.candidateInQuery).toBeCloseTo(regionSimilarity(query, describeRegions(featureMap(parts), 9, projection)), 6);
    expect(same.candidateInQueryInPlace).toBeCloseTo(same.candidateInQuery, 6);
    expect(same.queryInCandidateInPlace).toBeCloseTo(same.queryInCandidate, 6);
    expect(same.spread).toBeCloseTo(0, 6);
    // The same parts with the grid's corners swapped (cell 0 ↔ 8, 2 ↔ 6): found as well, but out of place there.
    const swapped = [...parts];
    [swapped[0], swapped[8], swapped[2], swapped[6]] = [parts[8]!, parts[0]!, parts[6]!, parts[2]!];
    const moved = regionFeatures(query, describeRegions(featureMap(swapped), 9, projection));
    expect(moved.candidateInQuery).toBeCloseTo(same.candidateInQuery, 6);
    expect(moved.candidateInQueryInPlace).toBeLessThan(same.candidateInQueryInPlace - 0.2);
    expect(regionFeatures(query, describeRegions(featureMap(parts.slice(0, 4)), 4, regionProjection(CHANNELS, 32))).spread).toBeNaN();
  });

  describe('a part of a photo read from the whole photo\'s map (featureMapInBox)', () => {
    // A 4 × 2-cell map of an 8 × 4-pixel image (2 px a cell), two channels: channel 0 is the cell's x, channel 1 its y.
    const map = { width: 4, height: 2, channels: 2, features: Float32Array.from([0, 1, 2, 3, 0, 1, 2, 3, 0, 0, 0, 0, 1, 1, 1, 1]) };

    it('reads the cells under a box that matches the grid as they are', () => {
      const part = featureMapInBox(map, 8, 4, { left: 2, top: 0, width: 4, height: 4 }, 2);
      expect(part.cells).toBe(4);
      // Channels first: x of cells (0,0) (1,0) (0,1) (1,1), then y.
      expect([...part.features]).toEqual([1, 2, 1, 2, 0, 0, 1, 1]);
    });

    it('interpolates between cell centres, and averages several samples where the box spans more cells than it gives', () => {
      const between = featureMapInBox(map, 8, 4, { left: 2, top: 0, width: 2, height: 2 }, 2);
      // Samples at x 2.5 and 3.5 px: 0.75 and 1.25 cells past the first centre; y 0.5 px (before row 0's centre:
      // clamped to it) and 1.5 px (0.25 of the way to row 1).
      expect([...between.features].map((v) => Math.round(v * 100) / 100)).toEqual([0.75, 1.25, 0.75, 1.25, 0, 0, 0.25, 0.25]);
      const whole = featureMapInBox(map, 8, 4, { left: 0, top: 0, width: 8, height: 4 }, 1);
      // Two samples a side (4 cells across into 1): the mean of x at 1 and 3 px / 5 and 7 px … stays the grid's mean.
      expect(whole.cells).toBe(1);
      expect(whole.features[0]).toBeCloseTo(1.5, 6);
      expect(whole.features[1]).toBeCloseTo(0.5, 6);
    });
  });
});

