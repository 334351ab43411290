import { scores, type CatalogIndex } from './region-search';

/**
 * Pairs among the first `count` catalog items whose hybrid similarity is at least `threshold`: products a query may
 * be matched to for a reason the photo cannot settle (two photos of the same kind of gravestone), counted so that a
 * recall figure can be read with them in mind.
 */
export function nearDuplicates(index: CatalogIndex, count: number, threshold: number): Array<{ a: string; b: string; similarity: number }> {
  const pairs: Array<{ a: string; b: string; similarity: number }> = [];
  for (let i = 0; i < count; i++) {
    const vectors = {
      semantic: index.semantic.subarray(i * index.semanticDims, (i + 1) * index.semanticDims),
      colour: index.colour.subarray(i * index.colourDims, (i + 1) * index.colourDims),
    };
    const row = scores(index, vectors);
    for (let j = i + 1; j < count; j++) if (row[j]! >= threshold) pairs.push({ a: index.ids[i]!, b: index.ids[j]!, similarity: Number(row[j]!.toFixed(3)) });
  }
  return pairs.sort((x, y) => y.similarity - x.similarity);
}
