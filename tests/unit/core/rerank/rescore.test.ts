import { encodeRegions, type RegionDescriptor } from '../../../../core/rerank/regions';
import { hitRegions, RERANK_DEPTH, REGION_WEIGHT, rerankResponse, rescored } from '../../../../core/rerank/rescore';
import type { CatalogHit } from '../../../../core/search/catalog-search';

/** A descriptor of `cells` cells, each the unit vector along axis `axes[i]` (dims 4), all weighted alike. */
function descriptor(axes: number[]): RegionDescriptor {
  const vectors = new Int8Array(axes.length * 4);
  axes.forEach((axis, i) => (vectors[i * 4 + axis] = 127));
  return { cells: axes.length, dims: 4, weights: new Uint8Array(axes.length).fill(255), vectors };
}

const hit = (id: string, score: number, regions?: RegionDescriptor): CatalogHit => ({
  _id: id,
  _score: score,
  inner_hits: regions ? { model: { hits: { hits: [{ _source: { regions: { model: encodeRegions(regions) } } }] } } } : {},
});

describe('the precision stage', () => {
  const query = descriptor([0, 1, 2, 3]);

  it('re-scores into 0..1, ranked as similarity + REGION_WEIGHT / 2 · region', () => {
    expect(rescored(1, 1)).toBe(1);
    expect(rescored(0, -1)).toBe(0);
    // int8 cells of an identical photo can match at a little over 1: a score stays at most 1.
    expect(rescored(1, 1.0004)).toBe(1);
    expect(rescored(0.99, 1.0004)).toBe(rescored(0.99, 1));
    expect(rescored(0.8, 0.2) - rescored(0.8, 0)).toBeCloseTo((REGION_WEIGHT / 2) * 0.2 / (1 + REGION_WEIGHT));
  });

  it('reads the matched photo’s descriptor from the inner hits named after the model', () => {
    expect(hitRegions(hit('a', 0.9, query), 'model')?.cells).toBe(4);
    expect(hitRegions(hit('a', 0.9), 'model')).toBeNull();
    expect(hitRegions(hit('a', 0.9, query), 'model', 'exact')).toBeNull();
  });

  it('puts the candidate whose cells are all found in the query above one whose cells are not', () => {
    // The close-up scores higher globally, but its cells (a part, enlarged) lie between the query's: cosine 0.71 each.
    const between = { ...descriptor([0, 0, 0, 0]), vectors: Int8Array.from({ length: 16 }, (_, i) => (i % 2 === 1 ? 90 : 0)) };
    const closeup = hit('closeup', 0.93, between);
    const whole = hit('whole', 0.92, descriptor([0, 1, 2, 3]));
    const response = rerankResponse({ hits: [closeup, whole] }, query, (h) => hitRegions(h, 'model'));
    expect(response.hits.map((h) => h._id)).toEqual(['whole', 'closeup']);
    // The verdict keeps the search's own scores.
    expect(response.similarities).toEqual([0.93, 0.92]);
  });

  it('keeps a candidate without a descriptor in its place, and the hits past the depth below every re-scored one', () => {
    const hits = Array.from({ length: RERANK_DEPTH + 5 }, (_, i) => hit(`h${i}`, 0.99 - i * 0.001, i % 2 === 0 ? descriptor([0, 1, 2, 3]) : undefined));
    const response = rerankResponse({ hits }, descriptor([3, 3, 3, 3]), (h) => hitRegions(h, 'model'));
    const scores = response.hits.map((h) => h._score!);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    // Without a descriptor: as if its cells matched as well as its photo does.
    expect(response.hits.find((h) => h._id === 'h1')!._score).toBeCloseTo(rescored(0.989, 2 * 0.989 - 1));
    // The tail keeps its order, after the head.
    expect(response.hits.slice(RERANK_DEPTH).map((h) => h._id)).toEqual(hits.slice(RERANK_DEPTH).map((h) => h._id));
    expect(new Set(response.hits.slice(0, RERANK_DEPTH).map((h) => h._id))).toEqual(new Set(hits.slice(0, RERANK_DEPTH).map((h) => h._id)));
  });
});
