import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Embedder } from '../../core/embedding/embedder';
import { findCrop } from '../../core/image/autocrop';
import { decodeImage, type DecodeLimits } from '../../core/image/decode';
import { createProgress } from '../../core/progress';
import { statistic, type FeatureMapModel } from './feature-map';
import { gridBoxes, scdaRegions } from './localize';
import { embedRegions } from './region-search';
import { percentile } from './report';

/**
 * Per-stage latency of localisation, one query at a time as the API serves them: decode, trim, attention, the
 * feature-map pass at each size (preprocessing + inference) and SCDA on its map, and embedding 1, 2, 4 and 8 regions
 * in one batch (both models). Medians and p95 over the queries, ms.
 */
export async function measureLatency(embedder: Embedder, maps: FeatureMapModel, photos: string[], limits: DecodeLimits): Promise<{ queries: number; stages: Record<string, { median: number; p95: number }> }> {
  const samples: Record<string, number[]> = {};
  const record = (stage: string, ms: number): void => {
    (samples[stage] ??= []).push(ms);
  };
  const progress = createProgress('latency');
  for (const [i, photo] of photos.entries()) {
    const bytes = fs.readFileSync(photo);
    let t = performance.now();
    const image = await decodeImage(bytes, limits);
    record('decode', performance.now() - t);
    t = performance.now();
    await findCrop(image, 'trim');
    record('trim', performance.now() - t);
    t = performance.now();
    await findCrop(image, 'attention');
    record('attention', performance.now() - t);
    for (const size of [224, 320, 384, 448]) {
      const { maps: featureMaps, mapMs, statisticsMs } = await maps.activation(image, size);
      record(`feature map ${size} px (preprocess + inference)`, mapMs);
      t = performance.now();
      scdaRegions(statistic(featureMaps, 'sum'), image.width, image.height, { threshold: 1, upsample: 4, padding: 0.1 });
      record(`map statistics (all four) + scda regions, ${size} px`, statisticsMs + performance.now() - t);
    }
    const boxes = [null, ...gridBoxes(image.width, image.height, [[0.6, 2], [0.8, 1], [0.5, 2]])];
    for (const n of [1, 2, 4, 8]) {
      t = performance.now();
      await embedRegions(embedder, boxes.slice(0, n).map((box) => ({ image, box })));
      record(`embed ${n} region${n > 1 ? 's' : ''} (both models, one batch)`, performance.now() - t);
    }
    progress.update(i + 1, photos.length);
  }
  progress.done();
  const stages = Object.fromEntries(Object.entries(samples).map(([stage, values]) => [stage, { median: percentile(values, 50), p95: percentile(values, 95) }]));
  return { queries: photos.length, stages };
}
