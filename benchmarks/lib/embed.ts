import fs from 'node:fs';
import type { Embedder } from '../../core/embedding/embedder';
import { createProgress } from '../../core/progress';
import { encodeRegions } from '../../core/rerank/regions';

/**
 * Embeds images (files, or bytes already read) in batches of 16; returns one row-major matrix per model. With
 * `descriptors`, each image's region descriptors (encoded, as the indexer stores them) are put in it per model that
 * describes regions, as a catalog photo's are.
 */
export async function embedAll(embedder: Embedder, images: Array<string | Buffer>, crop: 'auto' | 'none', label: string, descriptors?: Record<string, string[]>): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (const model of embedder.models) out[model.id] = new Float32Array(images.length * model.dims);
  const progress = createProgress(label);
  for (let start = 0; start < images.length; start += 16) {
    const chunk = images.slice(start, start + 16);
    const outcomes = await embedder.embedMany(chunk.map((image) => (typeof image === 'string' ? fs.readFileSync(image) : image)), { crop, regions: descriptors !== undefined });
    outcomes.forEach((outcome, offset) => {
      if (!outcome.ok) throw new Error(`image ${start + offset}: ${outcome.error.code}`);
      for (const embedding of outcome.image.embeddings) {
        out[embedding.model]!.set(embedding.vector, (start + offset) * embedding.vector.length);
        if (descriptors && embedding.regions) (descriptors[embedding.model] ??= [])[start + offset] = encodeRegions(embedding.regions);
      }
    });
    progress.update(Math.min(start + 16, images.length), images.length);
  }
  progress.done();
  return out;
}

/** Image `i`'s encoded region descriptors per model, of what `embedAll` collected. */
export const descriptorsAt = (descriptors: Record<string, string[]>, i: number): Record<string, string> => Object.fromEntries(Object.entries(descriptors).map(([id, encoded]) => [id, encoded[i]!]));

/** Row `i` of a row-major matrix of `dims` columns. */
export const row = (matrix: Float32Array, dims: number, i: number): Float32Array => matrix.subarray(i * dims, (i + 1) * dims);

/** Query × catalog cosine similarities (vectors are unit length). */
export function similarities(queries: Float32Array, catalog: Float32Array, dims: number): Float32Array {
  const nq = queries.length / dims;
  const nc = catalog.length / dims;
  const out = new Float32Array(nq * nc);
  for (let q = 0; q < nq; q++) {
    const qo = q * dims;
    for (let c = 0; c < nc; c++) {
      let dot = 0;
      const co = c * dims;
      for (let d = 0; d < dims; d++) dot += queries[qo + d]! * catalog[co + d]!;
      out[q * nc + c] = dot;
    }
  }
  return out;
}
