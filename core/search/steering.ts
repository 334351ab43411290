import { z } from 'zod';
import { ValidationError } from '../errors';

/**
 * Steering a query: `like` and `unlike` name products, kept queries or raw vectors, each with a weight. Per model,
 * the query becomes the weighted sum of unit vectors (the query's own with weight 1, each `like` added, each
 * `unlike` subtracted), normalised again. A thing without a vector for a model leaves that model's query as it is.
 */

export const MAX_STEERING = 10;

/**
 * Default weights, as Rocchio's relevance feedback weighs them (positive feedback strongly, negative weakly): an
 * `unlike` of the photo's own product at weight 1 would cancel the query, since a photo of a catalog item has nearly
 * that product's vector.
 */
export const DEFAULT_WEIGHT = { like: 1, unlike: 0.5 } as const;

export const steeringItemSchema = z
  .object({
    product_id: z.string().min(1).max(256).optional().describe('A product of the search’s catalog'),
    query_id: z.string().min(1).max(64).optional().describe('A query kept from an earlier search of the same catalog'),
    vector: z.array(z.number().finite()).min(1).max(4096).optional().describe('A raw vector for the model whose dimension it matches'),
    weight: z
      .number()
      .min(0)
      .max(10)
      .optional()
      .describe(`How much it pulls or pushes, against the query's own 1: default ${DEFAULT_WEIGHT.like} for like, ${DEFAULT_WEIGHT.unlike} for unlike`),
  })
  .strict()
  .refine((item) => [item.product_id, item.query_id, item.vector].filter((v) => v !== undefined).length === 1, { message: 'give exactly one of product_id, query_id, vector' });

export const steeringSchema = z.array(steeringItemSchema).min(1).max(MAX_STEERING);

export type SteeringItem = z.infer<typeof steeringItemSchema>;

/** One steering thing resolved to its vectors: `sign` +1 for like, −1 for unlike. */
export interface SteeringVectors {
  vectors: Record<string, number[]>;
  weight: number;
  sign: 1 | -1;
}

function unit(vector: number[]): number[] {
  const norm = Math.hypot(...vector);
  return norm === 0 ? vector : vector.map((v) => v / norm);
}

/** The steered query, per model of `query`: Σ ± wᵢ · unit(vᵢ) + unit(q), normalised. */
export function steer(query: Record<string, number[]>, items: SteeringVectors[]): Record<string, number[]> {
  const steered: Record<string, number[]> = {};
  for (const [model, vector] of Object.entries(query)) {
    const sum = unit(vector);
    for (const item of items) {
      const other = item.vectors[model];
      if (!other || item.weight === 0) continue;
      if (other.length !== sum.length) throw new ValidationError(`a steering vector for ${model} has ${other.length} values; ${model} takes ${sum.length}`, { code: 'vector_length_mismatch' });
      const direction = unit(other);
      for (let i = 0; i < sum.length; i++) sum[i]! += item.sign * item.weight * direction[i]!;
    }
    const norm = Math.hypot(...sum);
    // An unlike that cancels the query leaves nothing to search for.
    if (!(norm > 1e-6)) throw new ValidationError(`like and unlike cancel the query for ${model}: nothing is left to search for`, { code: 'invalid_vector' });
    steered[model] = sum.map((v) => v / norm);
  }
  return steered;
}
