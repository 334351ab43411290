/**
 * Detector speed on this machine's CPU, per image, for the built-in SSD-MobileNetV2 (300×300 input):
 * - preprocessing: a decoded 512×384 working image stretched to 300×300 (sharp) and written into the input tensor;
 * - the model run, at batch 1 and 8, with 1 and 2 intra-op threads;
 * - decode + NMS (anchors, sigmoid scores above the threshold, suppression) with the default options.
 * Inputs: scenes of Debian tuxpaint-stamps photos (a camera, a mug, cars, a dog, a person) on plain and busy backdrops.
 *
 * usage: npm run bench:detection-speed
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../core/config';
import { Detector } from '../core/detection/detector';
import { resolveDetectorManifest } from '../core/detection/manifest';
import { decodeImage, type RgbImage } from '../core/image/decode';
import { resizeForModel, writeTensor } from '../core/image/preprocess';
import { createLogger } from '../core/logger';
import { busyBackdrop, plainBackdrop, stampScene } from '../tests/fixtures/stamps';
import { fixed, percentile, writeResult } from './lib/report';

const STAMPS = ['hobbies/camera_35mm.png', 'household/dishes/mug.png', 'vehicles/auto/sedan.png', 'vehicles/auto/beetle.png', 'animals/mammals/dogs/dog.png', 'people/fireman240a.png'];
const RUNS = 40;

interface Timing {
  p50: number;
  p95: number;
  /** Process CPU time (all threads) per image: what the work costs, less sensitive than wall time to a busy machine. */
  cpu: number;
}

/** Wall-clock milliseconds per image of `work` (one sample per call, after two warm-up calls), and CPU per image. */
async function measure(work: () => Promise<unknown> | unknown, runs = RUNS, perCall = 1): Promise<Timing> {
  for (let i = 0; i < 2; i++) await work();
  const times: number[] = [];
  const cpuStart = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await work();
    times.push(performance.now() - start);
  }
  const cpu = process.cpuUsage(cpuStart);
  return { p50: percentile(times, 50) / perCall, p95: percentile(times, 95) / perCall, cpu: (cpu.user + cpu.system) / 1000 / runs / perCall };
}

async function main(): Promise<void> {
  const images: RgbImage[] = [];
  for (let i = 0; i < 8; i++) {
    const backdrop = i % 2 === 0 ? await plainBackdrop('#d8cfc0') : await busyBackdrop(i);
    const placed = [0, 1].map((k) => ({ stamp: STAMPS[(i + 3 * k) % STAMPS.length]!, label: '', left: 40 + 300 * k, top: 60 + 40 * k, width: 260 }));
    images.push(await decodeImage((await stampScene(backdrop, placed)).jpeg));
  }
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn', ONNX_EXECUTION_PROVIDER: process.env.ONNX_EXECUTION_PROVIDER ?? 'cpu' });
  const logger = createLogger(config);
  const manifest = resolveDetectorManifest();

  const tensor = new Float32Array(images.length * 3 * manifest.input.width * manifest.input.height);
  const preprocess = await measure(async () => writeTensor(await resizeForModel(images[0]!, null, manifest.input), manifest.input, tensor, 0));
  await Promise.all(images.map(async (image, slot) => writeTensor(await resizeForModel(image, null, manifest.input), manifest.input, tensor, slot)));

  const runs: Array<Timing & { threads: number; batch: number }> = [];
  let decodeNms: Timing = { p50: NaN, p95: NaN, cpu: NaN };
  let boxes = 0;
  for (const threads of [1, 2]) {
    const detector = await Detector.load(manifest, { ...config.onnx, intraOpThreads: threads }, logger);
    for (const batch of [1, 8]) {
      const input = tensor.subarray(0, batch * detector.inputSize);
      runs.push({ threads, batch, ...(await measure(() => detector.run(input, batch), Math.ceil(RUNS / batch) + 4, batch)) });
    }
    if (threads === 1) {
      const raw = await detector.run(tensor, images.length);
      let next = 0;
      decodeNms = await measure(() => {
        const i = next++ % images.length;
        boxes += detector.postprocess(raw.encodings[i]!, raw.logits[i]!, images[i]!).length;
      }, RUNS * 2);
    }
    await detector.close();
  }

  const markdown = `# Detector speed (CPU)

The built-in detector (${manifest.id}, 300×300 input), per image: wall-clock p50 / p95 and CPU time (all threads), ms.

| step | p50 | p95 | CPU |
| --- | --- | --- | --- |
| preprocess: 512×384 working image → 300×300 tensor (sharp) | ${fixed(preprocess.p50, 2)} | ${fixed(preprocess.p95, 2)} | ${fixed(preprocess.cpu, 2)} |
${runs.map((r) => `| model run, ${r.threads} thread${r.threads > 1 ? 's' : ''}, batch ${r.batch} | ${fixed(r.p50, 1)} | ${fixed(r.p95, 1)} | ${fixed(r.cpu, 1)} |`).join('\n')}
| decode + NMS (score ≥ 0.3, class-agnostic IoU 0.5, ≤ 10 boxes) | ${fixed(decodeNms.p50, 2)} | ${fixed(decodeNms.p95, 2)} | ${fixed(decodeNms.cpu, 2)} |

Load average when it ran: ${fixed(os.loadavg()[0]!, 1)} on ${os.cpus().length} cores. Other work on the machine stretches the wall-clock
columns; the CPU column is what each step costs.
`;
  writeResult('detection-speed', 'npm run bench:detection-speed', { preprocess_ms: preprocess, model_run_ms_per_image: runs, decode_nms_ms: decodeNms, boxes_per_image: boxes / (RUNS * 2 + 2) }, markdown);
  process.stdout.write(markdown);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
