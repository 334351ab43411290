import productsMapping from '../../mappings/products.json';
import type { Config, VectorIndexOptions } from '../config';

/**
 * Builds the catalog index body from mappings/products.json (the source of truth) plus one `dense_vector` field per
 * embedding model, and compares a live mapping against it.
 *
 * A product has several photos: `photos` is a nested field with one entry per photo, in the order of the product's
 * `images` (docs/index.md says why nested rather than one document per photo). Per photo and model `<id>`:
 * `photos.vectors.<id>` holds the vector (cosine), `photos.embeddings.<id>` what it was computed from (model id, model
 * version, image content hash), which is how the indexer knows not to embed the same photo twice.
 */

/** One embedding model's vector field. */
export interface VectorFieldSpec {
  modelId: string;
  dims: number;
  index: VectorIndexOptions;
}

const MODEL_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const QUANTIZED = new Set(['int8_hnsw', 'int4_hnsw', 'bbq_hnsw', 'int8_flat', 'bbq_flat']);
const HNSW = new Set(['hnsw', 'int8_hnsw', 'int4_hnsw', 'bbq_hnsw']);

type JsonObject = Record<string, unknown>;

/** The nested field that holds a product's photos. */
export const PHOTOS_PATH = 'photos';
export const vectorField = (modelId: string): string => `${PHOTOS_PATH}.vectors.${modelId}`;
export const embeddingField = (modelId: string): string => `${PHOTOS_PATH}.embeddings.${modelId}`;
/** A photo's region descriptor of one model (core/rerank/regions.ts): in `_source` only, never indexed. */
export const regionsField = (modelId: string): string => `${PHOTOS_PATH}.regions.${modelId}`;

export function assertModelId(modelId: string): void {
  if (!MODEL_ID.test(modelId)) {
    throw new Error(`model id "${modelId}" must be lower-case letters, digits, "-" and "_" (at most 64)`);
  }
}

/** The `dense_vector` mapping for one model, validated against what each index type accepts. */
export function denseVectorMapping(spec: VectorFieldSpec): JsonObject {
  assertModelId(spec.modelId);
  const { type, m, efConstruction, oversample } = spec.index;
  if (!Number.isInteger(spec.dims) || spec.dims < 1 || spec.dims > 4096) {
    throw new Error(`model ${spec.modelId}: dims ${spec.dims} is outside 1..4096`);
  }
  if (type === 'int4_hnsw' && spec.dims % 2 !== 0) throw new Error(`model ${spec.modelId}: int4_hnsw needs an even number of dims`);
  const indexOptions: JsonObject = { type };
  if (HNSW.has(type)) Object.assign(indexOptions, { m, ef_construction: efConstruction });
  if (QUANTIZED.has(type) && oversample > 0) indexOptions.rescore_vector = { oversample };
  return { type: 'dense_vector', dims: spec.dims, index: true, similarity: 'cosine', index_options: indexOptions };
}

/** The metadata recorded beside each model's vector. */
export function embeddingMetadataMapping(): JsonObject {
  return {
    type: 'object',
    dynamic: 'strict',
    properties: {
      model_id: { type: 'keyword' },
      model_version: { type: 'keyword' },
      image_hash: { type: 'keyword' },
      embedded_at: { type: 'date' },
    },
  };
}

/** The full create-index body: settings from the file and the config, base fields, one vector field per model. */
export function buildIndexBody(indexConfig: Config['index'], models: VectorFieldSpec[]): { settings: JsonObject; mappings: JsonObject } {
  const base = structuredClone(productsMapping) as { settings: { index: JsonObject }; mappings: JsonObject & { properties: JsonObject } };
  base.settings.index.number_of_shards = indexConfig.shards;
  base.settings.index.number_of_replicas = indexConfig.replicas;
  base.settings.index.refresh_interval = indexConfig.refreshInterval;
  const photos = (base.mappings.properties.photos as { properties: JsonObject }).properties;
  const vectors = photos.vectors as { properties: JsonObject };
  const embeddings = photos.embeddings as { properties: JsonObject };
  for (const model of models) {
    vectors.properties[model.modelId] = denseVectorMapping(model);
    embeddings.properties[model.modelId] = embeddingMetadataMapping();
  }
  return { settings: base.settings, mappings: base.mappings };
}

/** The mapping delta that adds one model's fields to an existing index. */
export function modelFieldsMapping(model: VectorFieldSpec): JsonObject {
  return {
    properties: {
      [PHOTOS_PATH]: {
        type: 'nested',
        properties: {
          vectors: { properties: { [model.modelId]: denseVectorMapping(model) } },
          embeddings: { properties: { [model.modelId]: embeddingMetadataMapping() } },
        },
      },
    },
  };
}

export interface MappingCheck {
  /** Human-readable disagreements; empty when the live mapping serves these models. */
  problems: string[];
  /** Models whose fields are absent from the live mapping (they can be added in place). */
  missingModels: VectorFieldSpec[];
  /**
   * Base fields of mappings/products.json absent from the live mapping (a field added by a newer release, such as
   * `catalog`): added in place, since a new field changes nothing stored.
   */
  missingFields: Record<string, JsonObject>;
  /**
   * The index holds one photo per product (schema 1: `vectors` and `embeddings` at the top level, no `photos`): it
   * cannot serve this release until `lookalike index migrate` copies it into a version with `photos`.
   */
  onePhotoLayout: boolean;
}

/** Compares a live mapping (the `mappings` of one index) with the file and the configured models. */
export function compareMapping(live: JsonObject, models: VectorFieldSpec[]): MappingCheck {
  const problems: string[] = [];
  const missingModels: VectorFieldSpec[] = [];
  const missingFields: Record<string, JsonObject> = {};
  const liveProps = (live.properties ?? {}) as Record<string, JsonObject>;
  if (!liveProps[PHOTOS_PATH] && (liveProps.vectors || liveProps.embeddings)) return { problems, missingModels, missingFields, onePhotoLayout: true };
  const expected = (productsMapping.mappings.properties ?? {}) as Record<string, JsonObject>;
  for (const [field, definition] of Object.entries(expected)) {
    const actual = liveProps[field];
    if (!actual) missingFields[field] = definition;
    else if ((actual.type ?? 'object') !== (definition.type ?? 'object')) {
      problems.push(`field "${field}" is ${String(actual.type ?? 'object')}, expected ${String(definition.type)}`);
    }
  }
  const livePhotos = (liveProps[PHOTOS_PATH]?.properties ?? {}) as Record<string, JsonObject>;
  // A field of the photos added by a newer release (their `regions`): added in place too.
  const expectedPhotos = (expected[PHOTOS_PATH]?.properties ?? {}) as Record<string, JsonObject>;
  const newPhotoFields = liveProps[PHOTOS_PATH] ? Object.entries(expectedPhotos).filter(([field]) => !livePhotos[field]) : [];
  if (newPhotoFields.length > 0) missingFields[PHOTOS_PATH] = { type: 'nested', properties: Object.fromEntries(newPhotoFields) };
  const liveVectors = (livePhotos.vectors?.properties ?? {}) as Record<string, JsonObject>;
  for (const model of models) {
    const field = liveVectors[model.modelId];
    if (!field) {
      missingModels.push(model);
      continue;
    }
    if (field.type !== 'dense_vector') problems.push(`${vectorField(model.modelId)} is ${String(field.type)}, expected dense_vector`);
    if (field.dims !== model.dims) {
      problems.push(`${vectorField(model.modelId)} has ${String(field.dims)} dims but model ${model.modelId} outputs ${model.dims}`);
    }
    if (field.similarity !== undefined && field.similarity !== 'cosine') {
      problems.push(`${vectorField(model.modelId)} uses ${String(field.similarity)} similarity, expected cosine`);
    }
  }
  return { problems, missingModels, missingFields, onePhotoLayout: false };
}
