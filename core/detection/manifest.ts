import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { StartupError } from '../errors';
import { BUILTIN_MODEL_DIR, modelFileFields, readManifestFile, type ManifestPaths } from '../embedding/manifest';

/**
 * A detector manifest: an SSD-style detector's ONNX file, its input, its label map and how its raw outputs decode into
 * boxes. Detectors live in models/builtin/detectors/, a directory of their own, so the embedding models' discovery
 * (models/builtin/*.json) never takes one for an embedding model.
 */

/**
 * SSD anchors as the TF Object Detection API's `ssd_anchor_generator` (and MediaPipe's SsdAnchorsCalculator) make
 * them: one layer per feature map, scales spread linearly from minScale to maxScale, one anchor per aspect ratio and
 * an extra one between this layer's scale and the next.
 */
export const anchorOptionsSchema = z
  .object({
    /** Side of each layer's square feature map, in order (e.g. 19, 10, 5, 3, 2, 1 for a 300×300 input). */
    featureMapSizes: z.array(z.number().int().min(1)).min(1),
    minScale: z.number().positive(),
    maxScale: z.number().positive(),
    /** Width / height of the anchors of each layer (the lowest layer's when reduceBoxesInLowestLayer is off). */
    aspectRatios: z.array(z.number().positive()).min(1),
    /** The lowest layer has only three anchors: (scale 0.1, ratio 1), (minScale, 2), (minScale, 0.5). */
    reduceBoxesInLowestLayer: z.boolean(),
    /** Aspect ratio of the extra anchor of scale √(s_i · s_i+1) on each layer (1.0 past the last); 0 for none. */
    interpolatedScaleAspectRatio: z.number().min(0),
    /** Anchor centres are ((x + offset) / size, (y + offset) / size). */
    anchorOffset: z.number().min(0).max(1).default(0.5),
  })
  .strict();

/** The scales of the box encoding (ty, tx, th, tw): centre offsets divided by y/xScale, log sizes by h/wScale. */
export const boxCoderSchema = z
  .object({ yScale: z.number().positive(), xScale: z.number().positive(), hScale: z.number().positive(), wScale: z.number().positive() })
  .strict();

export const detectorManifestSchema = z
  .object({
    ...modelFileFields,
    /** Where the weights come from and under which licence. */
    source: z.string().max(500).optional(),
    output: z
      .object({
        /** [N, anchors, 4] box encodings (ty, tx, th, tw). */
        boxes: z.string().min(1),
        /** [N, anchors, labels] class logits (sigmoid scores). */
        logits: z.string().min(1),
      })
      .strict(),
    /** Class names by logit index; index 0 is the background and is never reported. */
    labels: z.array(z.string().min(1)).min(2),
    anchors: anchorOptionsSchema,
    boxCoder: boxCoderSchema,
    /** Largest batch per run. */
    maxBatch: z.number().int().min(1).max(256).default(8),
    /** ONNX Runtime intra-op threads for this detector, overriding ONNX_INTRA_OP_THREADS. */
    threads: z.number().int().min(1).max(256).optional(),
    /** How to obtain the ONNX file when it is missing. */
    build: z.string().optional(),
  })
  .strict();

export type AnchorOptions = z.infer<typeof anchorOptionsSchema>;
export type BoxCoder = z.infer<typeof boxCoderSchema>;
export type DetectorManifest = z.infer<typeof detectorManifestSchema> & ManifestPaths;

export const BUILTIN_DETECTOR_DIR = path.join(BUILTIN_MODEL_DIR, 'detectors');
/** The built-in detector: SSD-MobileNetV2 trained on Open Images V4 (24 classes). */
export const DEFAULT_DETECTOR_ID = 'ssd-mobilenetv2-oidv4';

/** Reads and validates one detector manifest file. */
export function readDetectorManifest(file: string): DetectorManifest {
  return readManifestFile(file, detectorManifestSchema, 'detector');
}

/** The built-in detector manifest `id`; a StartupError naming the known ones when there is none. */
export function resolveDetectorManifest(id: string = DEFAULT_DETECTOR_ID, directory: string = BUILTIN_DETECTOR_DIR): DetectorManifest {
  const file = path.join(directory, `${id}.json`);
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(id) || !fs.existsSync(file)) {
    const known = fs.existsSync(directory) ? fs.readdirSync(directory).filter((name) => name.endsWith('.json')).map((name) => name.slice(0, -5)) : [];
    throw new StartupError('unknown_detector', `no manifest for detector ${id}; known: ${known.sort().join(', ') || 'none'}`);
  }
  const manifest = readDetectorManifest(file);
  if (manifest.id !== id) throw new StartupError('invalid_detector_manifest', `detector manifest ${file} has id ${manifest.id}, expected ${id}`);
  return manifest;
}
