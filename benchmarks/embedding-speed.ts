/**
 * Embedding speed on this machine's CPU (the same code runs with ONNX_EXECUTION_PROVIDER=cuda on a GPU):
 * - decode + autocrop + preprocess, images/s, from 800 px JPEGs;
 * - inference per model by batch size (1, 8, 32) and intra-op threads (1, 2);
 * - end to end (bytes in, both models' vectors out) at batch 16 from 800 px JPEGs, images/s;
 * - one query image (640 px JPEG), latency p50 / p95 / p99.
 * Inputs are the dev set's catalog photos (run bench:embedding-quality first, or this builds the dev set).
 *
 * usage: npm run bench:embedding-speed
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { loadConfig } from '../core/config';
import { createEmbedder } from '../core/embedding/embedder';
import { resolveManifests } from '../core/embedding/manifest';
import { EmbeddingModel } from '../core/embedding/onnx-model';
import { findCrop } from '../core/image/autocrop';
import { decodeImage } from '../core/image/decode';
import { resizeForModel, writeTensor } from '../core/image/preprocess';
import { createLogger } from '../core/logger';
import { createProgress } from '../core/progress';
import { buildDevSet } from './lib/devset';
import { fixed, percentile, writeResult } from './lib/report';

const MODELS = ['efficientnet-lite0', 'colour-texture'];

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await work();
  return [value, performance.now() - start];
}

async function main(): Promise<void> {
  const devset = await buildDevSet(path.resolve(__dirname, '..', '.cache', 'devset'), { perCategory: 100, queryItems: 300, seed: 7 });
  const jpegs = devset.catalog.slice(0, 128).map((item) => fs.readFileSync(item.photo));
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn', MODELS: MODELS.join(','), ONNX_EXECUTION_PROVIDER: process.env.ONNX_EXECUTION_PROVIDER ?? 'cpu' });
  const logger = createLogger(config);
  const manifests = resolveManifests(MODELS);

  // 1. Decode + autocrop + preprocess for both models (16 images at a time, as the embedder does).
  const tensors = manifests.map((m) => new Float32Array(16 * 3 * m.input.width * m.input.height));
  await decodeImage(jpegs[0]!); // load libvips
  const [, decodeMs] = await timed(async () => {
    for (let start = 0; start < jpegs.length; start += 16) {
      await Promise.all(
        jpegs.slice(start, start + 16).map(async (bytes, slot) => {
          const image = await decodeImage(bytes);
          const crop = await findCrop(image, 'trim');
          for (const [i, manifest] of manifests.entries()) writeTensor(await resizeForModel(image, crop, manifest.input), manifest.input, tensors[i]!, slot);
        }),
      );
    }
  });
  const decodeRate = jpegs.length / (decodeMs / 1000);

  // 2. Inference by batch size and threads.
  const inference: Array<{ model: string; threads: number; batch: number; ms_per_batch: number; images_per_s: number }> = [];
  const progress = createProgress('inference');
  for (const manifest of manifests) {
    for (const threads of [1, 2]) {
      const model = await EmbeddingModel.load(manifest, { ...config.onnx, intraOpThreads: threads }, logger);
      for (const batch of [1, 8, 32]) {
        const input = new Float32Array(batch * model.inputSize).map((_, i) => Math.sin(i));
        await model.embed(input, batch);
        const runs = Math.max(3, Math.round(64 / batch));
        const [, ms] = await timed(async () => {
          for (let r = 0; r < runs; r++) await model.embed(input, batch);
        });
        inference.push({ model: manifest.id, threads, batch, ms_per_batch: ms / runs, images_per_s: (batch * runs) / (ms / 1000) });
        progress.update(inference.length, manifests.length * 6);
      }
      await model.close();
    }
  }
  progress.done();

  // 3. End to end, both models, batch 16.
  const embedder = await createEmbedder(config, logger);
  await embedder.embedMany(jpegs.slice(0, 16));
  const [, endToEndMs] = await timed(async () => {
    for (let start = 0; start < jpegs.length; start += 16) {
      const outcomes = await embedder.embedMany(jpegs.slice(start, start + 16));
      if (outcomes.some((o) => !o.ok)) throw new Error('an image failed');
    }
  });
  const endToEnd = jpegs.length / (endToEndMs / 1000);

  // 4. One query image, 640 px JPEG, both models.
  const query = await sharp(jpegs[5]!).resize(640).jpeg({ quality: 85 }).toBuffer();
  const latencies: number[] = [];
  for (let i = 0; i < 220; i++) {
    const [, ms] = await timed(() => embedder.embed(query));
    if (i >= 20) latencies.push(ms);
  }
  await embedder.close();

  const single = { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) };
  const threadsNote = `ONNX intra-op threads as set per row; end to end with the default (${os.cpus().length} on this machine)`;
  const markdown = `# Embedding speed (CPU)

| measure | result | target |
| --- | --- | --- |
| decode + autocrop + preprocess (both models), 800 px JPEG | ${fixed(decodeRate, 1)} images/s | |
| end to end, hybrid (both models), batch 16, 800 px JPEG | **${fixed(endToEnd, 1)} images/s** | ≥ 60 |
| one query image, 640 px JPEG, hybrid: p50 / p95 / p99 | ${fixed(single.p50, 1)} / **${fixed(single.p95, 1)}** / ${fixed(single.p99, 1)} ms | p95 ≤ 25 |

Inference only (${threadsNote}):

| model | threads | batch | ms / batch | images/s |
| --- | --- | --- | --- | --- |
${inference.map((r) => `| ${r.model} | ${r.threads} | ${r.batch} | ${fixed(r.ms_per_batch, 1)} | ${fixed(r.images_per_s, 1)} |`).join('\n')}
`;
  writeResult('embedding-speed', 'npm run bench:embedding-speed', { decode_preprocess_images_per_s: decodeRate, end_to_end_images_per_s_batch16: endToEnd, single_query_ms: single, inference }, markdown);
  process.stdout.write(markdown);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
