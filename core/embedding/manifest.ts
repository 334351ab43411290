import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { VECTOR_INDEX_TYPES, vectorOptionsFor, type Config } from '../config';
import type { VectorFieldSpec } from '../search/catalog-mapping';
import { StartupError, describeIssues } from '../errors';
import type { ExecutionProvider } from './onnx-model';

/** How an image becomes a model's input tensor (shared by embedding models and detectors). */
export const modelInputSchema = z
  .object({
    name: z.string().min(1),
    width: z.number().int().min(8).max(2048),
    height: z.number().int().min(8).max(2048),
    layout: z.enum(['NCHW', 'NHWC']).default('NCHW'),
    colorOrder: z.enum(['RGB', 'BGR']).default('RGB'),
    /** `crop`: resize the short side to `resizeShortSide` then centre-crop; `letterbox`: fit and pad; `stretch`. */
    resize: z.enum(['crop', 'letterbox', 'stretch']).default('crop'),
    resizeShortSide: z.number().int().min(8).max(4096).optional(),
    /** Pixel value v in 0..255 becomes (v * scale - mean[c]) / std[c]. */
    scale: z.number().positive().default(1 / 255),
    mean: z.tuple([z.number(), z.number(), z.number()]).default([0, 0, 0]),
    std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]).default([1, 1, 1]),
    padColor: z.tuple([z.number(), z.number(), z.number()]).default([255, 255, 255]),
  })
  .strict();

/**
 * A model manifest: everything needed to turn an image into the vector a model expects, and to map its field.
 * Built-in manifests live in models/builtin/, presets for models you bring in models/presets/, and your own in the
 * directory MODEL_DIR. The same manifest drives the indexer and the API, so both preprocess identically.
 */
/** The fields every manifest of an ONNX model has (embedding models and detectors alike). */
export const modelFileFields = {
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/),
  version: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
  description: z.string().max(500).optional(),
  /** ONNX file, relative to the manifest's directory (or absolute). */
  file: z.string().min(1),
  /** sha256 of the ONNX file; checked when the model loads. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  input: modelInputSchema,
  /**
   * An int8 copy of the model (the same graph with weights and activations quantized: models/quantize_int8.py), ~2.5×
   * faster on CPU, whose outputs approximate the model's: the API's localization runs it where an approximation serves
   * (LOCALIZE_SCORER, LOCALIZE_MAP), never for what is stored or searched. File relative to the manifest, pinned.
   */
  quantized: z
    .object({ file: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/) })
    .strict()
    .optional(),
};

export const manifestSchema = z
  .object({
    ...modelFileFields,
    output: z
      .object({
        name: z.string().min(1),
        /** `mean`: global average pooling of NCHW feature maps; `cls`: first token of [N, T, D]; `none`: already [N, D]. */
        pooling: z.enum(['none', 'mean', 'cls']).default('none'),
      })
      .strict(),
    dims: z.number().int().min(1).max(4096),
    /**
     * The model's last convolutional feature map, an output beside the pooled one ([N, C, H, W]): each photo's is
     * described cell by cell for the precision stage (`rerank`, core/rerank/regions.ts), in the same run.
     */
    regions: z.object({ output: z.string().min(1) }).strict().optional(),
    /** The crop applied before preprocessing: `trim` uniform borders, `attention` (saliency), or `none`. */
    autocrop: z.enum(['trim', 'attention', 'none']).default('trim'),
    maxBatch: z.number().int().min(1).max(256).default(32),
    /** ONNX Runtime intra-op threads for this model, overriding ONNX_INTRA_OP_THREADS (a small model needs one). */
    threads: z.number().int().min(1).max(256).optional(),
    /** How the vector field is indexed, when not set by VECTOR_INDEX_OVERRIDES. */
    index: z
      .object({
        type: z.enum(VECTOR_INDEX_TYPES).optional(),
        m: z.number().int().positive().optional(),
        efConstruction: z.number().int().positive().optional(),
        oversample: z.number().min(0).max(20).optional(),
      })
      .strict()
      .optional(),
    /** How to obtain the ONNX file when it is missing: a built-in builder, or a hint for models you bring. */
    build: z.string().optional(),
  })
  .strict();

export type ModelManifest = z.infer<typeof manifestSchema> & ManifestPaths;

/** Where a manifest's files are, resolved against its directory when read. */
export interface ManifestPaths {
  /** Absolute path of the ONNX file. */
  modelPath: string;
  /** Absolute path of the int8 copy's file (`quantized`). */
  quantizedPath?: string;
}

/** The manifest of a model's int8 copy (`quantized`): the same model, another file; undefined when it has none. */
export function quantizedManifest<M extends ManifestPaths & { file: string; sha256?: string | undefined; quantized?: { file: string; sha256: string } | undefined }>(manifest: M): Omit<M, 'quantized' | 'quantizedPath'> | undefined {
  if (!manifest.quantized || !manifest.quantizedPath) return undefined;
  const { quantized, quantizedPath, ...rest } = manifest;
  return { ...rest, file: quantized.file, sha256: quantized.sha256, modelPath: quantizedPath };
}

/**
 * The int8 copy to load for a model that opened on `provider`: the manifest's copy on CPU, none on a GPU (ONNX
 * Runtime's CUDA provider does not run int8 convolutions, and the model itself is fast there). The one rule for the
 * embedder's copies and the localizer's map.
 */
export function int8CopyOn<M extends Parameters<typeof quantizedManifest>[0]>(manifest: M, provider: ExecutionProvider): ReturnType<typeof quantizedManifest<M>> {
  return provider === 'cpu' ? quantizedManifest(manifest) : undefined;
}

export const REPO_ROOT = path.resolve(__dirname, '..', '..', ...(path.basename(path.resolve(__dirname, '..', '..')) === 'dist' ? ['..'] : []));
export const BUILTIN_MODEL_DIR = path.join(REPO_ROOT, 'models', 'builtin');
export const PRESET_MODEL_DIR = path.join(REPO_ROOT, 'models', 'presets');

/** Reads and validates one manifest file. */
export function readManifest(file: string): ModelManifest {
  return readManifestFile(file, manifestSchema, 'model');
}

/**
 * Reads a JSON manifest and validates it with `schema` (every problem in one StartupError); `file` resolves against
 * the manifest's directory into `modelPath`. `kind` names the manifest in errors.
 */
export function readManifestFile<Schema extends z.ZodType<{ file: string; quantized?: { file: string } | undefined }>>(file: string, schema: Schema, kind: 'model' | 'detector' | 'localizer'): z.infer<Schema> & ManifestPaths {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new StartupError(`invalid_${kind}_manifest`, `cannot read ${kind} manifest ${file}: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error.issues).join('; ');
    throw new StartupError(`invalid_${kind}_manifest`, `${kind} manifest ${file} is invalid: ${problems}`);
  }
  const manifest = parsed.data;
  const quantized = manifest.quantized ? { quantizedPath: path.resolve(path.dirname(file), manifest.quantized.file) } : {};
  return { ...manifest, modelPath: path.resolve(path.dirname(file), manifest.file), ...quantized };
}

/** All manifests in the given directories, by id; a later directory overrides an earlier one. */
export function discoverManifests(directories: string[]): Map<string, ModelManifest> {
  const found = new Map<string, ModelManifest>();
  for (const directory of directories) {
    if (!fs.existsSync(directory)) continue;
    for (const name of fs.readdirSync(directory).sort()) {
      if (name.endsWith('.json')) {
        const manifest = readManifest(path.join(directory, name));
        found.set(manifest.id, manifest);
      }
    }
  }
  return found;
}

/** The manifests of the configured model ids, in order; a StartupError naming any id that has no manifest. */
export function resolveManifests(ids: string[], extraDirectory?: string): ModelManifest[] {
  const all = discoverManifests([BUILTIN_MODEL_DIR, PRESET_MODEL_DIR, ...(extraDirectory ? [extraDirectory] : [])]);
  const missing = ids.filter((id) => !all.has(id));
  if (missing.length > 0) {
    throw new StartupError('unknown_model', `no manifest for model(s) ${missing.join(', ')}; known: ${[...all.keys()].join(', ')}`);
  }
  return ids.map((id) => all.get(id)!);
}

/** The vector field each model needs, with index options resolved from the config and the manifest. */
export function vectorFieldSpecs(config: Config, manifests: ModelManifest[]): VectorFieldSpec[] {
  return manifests.map((manifest) => ({
    modelId: manifest.id,
    dims: manifest.dims,
    index: vectorOptionsFor(config, manifest.id, manifest.index ?? {}),
  }));
}
