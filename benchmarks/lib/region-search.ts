import type { Embedder } from '../../core/embedding/embedder';
import type { CropBox } from '../../core/image/autocrop';
import type { RgbImage } from '../../core/image/decode';
import { resizeForModel, writeTensor } from '../../core/image/preprocess';

/**
 * Embedding image regions with the service's own preprocessing and models, and exact hybrid search over a catalog in
 * memory (w · semantic cosine + (1 − w) · colour-texture cosine, the sum the service's boosted kNN clauses give).
 */
export const SEMANTIC = 'efficientnet-lite0';
export const COLOUR = 'colour-texture';
export const SEMANTIC_WEIGHT = 0.6;

export interface RegionVectors {
  semantic: Float32Array;
  colour: Float32Array;
}

/** Embeds each (image, box) pair (box null: the whole image), one batch per model. */
export async function embedRegions(embedder: Embedder, items: Array<{ image: RgbImage; box: CropBox | null }>): Promise<RegionVectors[]> {
  const perModel = await Promise.all(
    [SEMANTIC, COLOUR].map(async (id) => {
      const model = embedder.get(id);
      if (!model) throw new Error(`model ${id} is not loaded`);
      const batch = new Float32Array(items.length * model.inputSize);
      await Promise.all(
        items.map(async ({ image, box }, slot) => {
          writeTensor(await resizeForModel(image, box, model.manifest.input), model.manifest.input, batch, slot);
        }),
      );
      return model.embed(batch, items.length);
    }),
  );
  return items.map((_, i) => ({ semantic: perModel[0]![i]!, colour: perModel[1]![i]! }));
}

export interface CatalogIndex {
  ids: string[];
  semantic: Float32Array;
  colour: Float32Array;
  semanticDims: number;
  colourDims: number;
}

export interface Hit {
  item: number;
  score: number;
}

function dot(a: Float32Array, matrix: Float32Array, row: number, dims: number): number {
  let sum = 0;
  const offset = row * dims;
  for (let d = 0; d < dims; d++) sum += a[d]! * matrix[offset + d]!;
  return sum;
}

/** Hybrid scores of `vectors` against every catalog item. */
export function scores(index: CatalogIndex, vectors: RegionVectors, weight = SEMANTIC_WEIGHT): Float32Array {
  const out = new Float32Array(index.ids.length);
  for (let c = 0; c < index.ids.length; c++) {
    out[c] = weight * dot(vectors.semantic, index.semantic, c, index.semanticDims) + (1 - weight) * dot(vectors.colour, index.colour, c, index.colourDims);
  }
  return out;
}

/** The `k` best catalog items for `vectors`, best first. */
export function search(index: CatalogIndex, vectors: RegionVectors, k = 5, weight = SEMANTIC_WEIGHT): Hit[] {
  const all = scores(index, vectors, weight);
  const hits: Hit[] = [];
  for (let c = 0; c < all.length; c++) {
    const score = all[c]!;
    if (hits.length < k || score > hits[hits.length - 1]!.score) {
      hits.push({ item: c, score });
      hits.sort((a, b) => b.score - a.score);
      if (hits.length > k) hits.pop();
    }
  }
  return hits;
}
