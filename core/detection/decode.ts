import { ANCHOR_STRIDE } from './anchors';
import type { BoxCoder } from './manifest';

/** A box in coordinates relative to the model's input (0..1 on each axis; the image, stretched). */
export interface NormalizedBox {
  xMin: number;
  yMin: number;
  xMax: number;
  yMax: number;
}

/** One scored box before non-maximum suppression. */
export interface Candidate {
  box: NormalizedBox;
  /** Index into the manifest's labels (never 0, the background). */
  classIndex: number;
  score: number;
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

const clamp01 = (value: number): number => Math.min(1, Math.max(0, value));

/**
 * Decodes anchor `index`'s encoding (ty, tx, th, tw) against its anchor (yc, xc, h, w), TF Object Detection API's
 * FasterRcnnBoxCoder: centre = t / scale · anchor size + anchor centre, size = exp(t / scale) · anchor size. The box
 * is clipped to the input.
 */
export function decodeBox(encodings: ArrayLike<number>, anchors: ArrayLike<number>, index: number, coder: BoxCoder): NormalizedBox {
  const e = index * 4;
  const a = index * ANCHOR_STRIDE;
  const anchorHeight = anchors[a + 2]!;
  const anchorWidth = anchors[a + 3]!;
  const yCenter = (encodings[e]! / coder.yScale) * anchorHeight + anchors[a]!;
  const xCenter = (encodings[e + 1]! / coder.xScale) * anchorWidth + anchors[a + 1]!;
  const height = Math.exp(encodings[e + 2]! / coder.hScale) * anchorHeight;
  const width = Math.exp(encodings[e + 3]! / coder.wScale) * anchorWidth;
  return {
    xMin: clamp01(xCenter - width / 2),
    yMin: clamp01(yCenter - height / 2),
    xMax: clamp01(xCenter + width / 2),
    yMax: clamp01(yCenter + height / 2),
  };
}

/** A box in an image's pixels. */
export interface PixelBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * A normalised box in the pixels of an image of `size` (the model saw it stretched, so each axis scales on its own):
 * the smallest whole-pixel box that holds it, inside the image, at least 1 px a side.
 */
export function toPixelBox(box: NormalizedBox, size: { width: number; height: number }): PixelBox {
  const left = Math.min(size.width - 1, Math.floor(clamp01(box.xMin) * size.width));
  const top = Math.min(size.height - 1, Math.floor(clamp01(box.yMin) * size.height));
  return {
    left,
    top,
    width: Math.max(1, Math.ceil(clamp01(box.xMax) * size.width) - left),
    height: Math.max(1, Math.ceil(clamp01(box.yMax) * size.height) - top),
  };
}

export interface CandidateOptions {
  /** Lowest sigmoid score kept. */
  scoreThreshold: number;
  /** One candidate per anchor (its best class) instead of one per anchor and class above the threshold. */
  classAgnostic: boolean;
}

/**
 * The boxes of one image's outputs that score at least the threshold: `encodings` [anchors·4], `logits`
 * [anchors·classes]; class 0 (the background) is skipped. Boxes that clip to nothing are dropped. Only the anchors that
 * pass are decoded, and logits are compared with the threshold's logit, so the sigmoid runs on those alone.
 */
export function findCandidates(
  encodings: ArrayLike<number>,
  logits: ArrayLike<number>,
  anchors: ArrayLike<number>,
  classes: number,
  coder: BoxCoder,
  options: CandidateOptions,
): Candidate[] {
  const count = anchors.length / ANCHOR_STRIDE;
  if (encodings.length !== count * 4 || logits.length !== count * classes) {
    throw new Error(`detector outputs hold ${encodings.length / 4} boxes and ${logits.length / classes} score rows, expected ${count} (one per anchor)`);
  }
  const threshold = options.scoreThreshold;
  const minLogit = threshold <= 0 ? -Infinity : threshold >= 1 ? Infinity : Math.log(threshold / (1 - threshold));
  const candidates: Candidate[] = [];
  for (let anchor = 0; anchor < count; anchor++) {
    const row = anchor * classes;
    let box: NormalizedBox | null = null;
    const keep = (classIndex: number): void => {
      box ??= decodeBox(encodings, anchors, anchor, coder);
      if (box.xMax > box.xMin && box.yMax > box.yMin) candidates.push({ box, classIndex, score: sigmoid(logits[row + classIndex]!) });
    };
    if (options.classAgnostic) {
      let best = 1;
      for (let c = 2; c < classes; c++) if (logits[row + c]! > logits[row + best]!) best = c;
      if (logits[row + best]! >= minLogit) keep(best);
    } else {
      for (let c = 1; c < classes; c++) if (logits[row + c]! >= minLogit) keep(c);
    }
  }
  return candidates;
}
