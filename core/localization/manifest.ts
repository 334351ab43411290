import path from 'node:path';
import { z } from 'zod';
import { BUILTIN_MODEL_DIR, modelFileFields, readManifestFile, type ManifestPaths } from '../embedding/manifest';

/**
 * A localizer manifest: a convolutional network with a free input size whose output is a feature map
 * [N, C, H/stride, W/stride]. The built-in one is EfficientNet-Lite0 with its last convolutional map exposed
 * (models/add_feature_map_output.py), built and checksum-pinned by `npm run setup` like the other built-in models.
 * Localizers live in models/builtin/localizers/, so the embedding models' discovery never takes one for an embedding
 * model.
 */
export const localizerManifestSchema = z
  .object({
    ...modelFileFields,
    /** The feature map's output name. */
    output: z.string().min(1),
    /** Input pixels per map cell; each side of the input is rounded to a multiple of it. */
    stride: z.number().int().min(1).max(256),
    /** ONNX Runtime intra-op threads, overriding ONNX_INTRA_OP_THREADS. */
    threads: z.number().int().min(1).max(256).optional(),
    /** How to obtain the ONNX file when it is missing. */
    build: z.string().optional(),
  })
  .strict();

export type LocalizerManifest = z.infer<typeof localizerManifestSchema> & ManifestPaths;

export const BUILTIN_LOCALIZER_DIR = path.join(BUILTIN_MODEL_DIR, 'localizers');
export const DEFAULT_LOCALIZER_ID = 'efficientnet-lite0-feature-map';

/** The built-in localizer manifest. */
export function readLocalizerManifest(file: string = path.join(BUILTIN_LOCALIZER_DIR, `${DEFAULT_LOCALIZER_ID}.json`)): LocalizerManifest {
  return readManifestFile(file, localizerManifestSchema, 'localizer');
}
