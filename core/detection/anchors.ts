import type { AnchorOptions } from './manifest';

/** Values per anchor in the array generateAnchors returns: y centre, x centre, height, width (all 0..1 of the input). */
export const ANCHOR_STRIDE = 4;

/** The scale of layer `index` of `count`, spread linearly from minScale to maxScale (their mean for one layer). */
function layerScale(options: AnchorOptions, index: number, count: number): number {
  if (count === 1) return (options.minScale + options.maxScale) / 2;
  return options.minScale + ((options.maxScale - options.minScale) * index) / (count - 1);
}

/** [scale, aspect ratio] of each anchor at one position of layer `layer`. */
function layerShapes(options: AnchorOptions, layer: number): Array<[number, number]> {
  const count = options.featureMapSizes.length;
  const scale = layerScale(options, layer, count);
  if (layer === 0 && options.reduceBoxesInLowestLayer) {
    return [[0.1, 1], [scale, 2], [scale, 0.5]];
  }
  const shapes: Array<[number, number]> = options.aspectRatios.map((ratio) => [scale, ratio]);
  if (options.interpolatedScaleAspectRatio > 0) {
    const next = layer === count - 1 ? 1 : layerScale(options, layer + 1, count);
    shapes.push([Math.sqrt(scale * next), options.interpolatedScaleAspectRatio]);
  }
  return shapes;
}

/**
 * The SSD anchors in the order of the model's outputs (layer, then row, then column, then shape), packed as
 * ANCHOR_STRIDE values each: (y centre, x centre, height, width), with height = scale / √ratio and width = scale · √ratio.
 * Same algorithm as the TF Object Detection API's ssd_anchor_generator and MediaPipe's SsdAnchorsCalculator.
 */
export function generateAnchors(options: AnchorOptions): Float64Array {
  const layers = options.featureMapSizes.map((size, layer) => ({ size, shapes: layerShapes(options, layer) }));
  const total = layers.reduce((sum, { size, shapes }) => sum + size * size * shapes.length, 0);
  const anchors = new Float64Array(total * ANCHOR_STRIDE);
  let at = 0;
  for (const { size, shapes } of layers) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        for (const [scale, ratio] of shapes) {
          anchors[at++] = (y + options.anchorOffset) / size;
          anchors[at++] = (x + options.anchorOffset) / size;
          anchors[at++] = scale / Math.sqrt(ratio);
          anchors[at++] = scale * Math.sqrt(ratio);
        }
      }
    }
  }
  return anchors;
}
