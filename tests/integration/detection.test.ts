import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../core/config';
import { Detector, type Detection } from '../../core/detection/detector';
import { resolveDetectorManifest, type DetectorManifest } from '../../core/detection/manifest';
import { iou } from '../../core/detection/nms';
import { decodeImage, type RgbImage } from '../../core/image/decode';
import { resizeForModel, writeTensor } from '../../core/image/preprocess';
import { createLogger } from '../../core/logger';
import { busyBackdrop, plainBackdrop, stampScene, type Box, type PlacedStamp } from '../fixtures/stamps';

const root = path.resolve(__dirname, '..', '..');
const python = path.join(root, '.cache', 'venv', 'bin', 'python');
const objectron = path.join(root, '.cache', 'downloads', 'mediapipe-objectron-0.4.1675468480.tgz');
const logger = createLogger({ log: { level: 'silent' } });
const config = loadConfig({ LOG_LEVEL: 'silent', ONNX_EXECUTION_PROVIDER: 'cpu' });
// Each test takes about a second alone; the margin is for a machine shared with other work.
const TIMEOUT_MS = 60_000;

const corners = (b: Box) => ({ xMin: b.left, yMin: b.top, xMax: b.left + b.width, yMax: b.top + b.height });

/** The detection of `label` that best overlaps `truth`, and that IoU. */
function bestMatch(found: Detection[], truth: Box & { label: string }): { detection?: Detection; overlap: number } {
  let best: { detection?: Detection; overlap: number } = { overlap: 0 };
  for (const detection of found.filter((d) => d.label === truth.label)) {
    const overlap = iou(corners(detection), corners(truth));
    if (overlap > best.overlap) best = { detection, overlap };
  }
  return best;
}

describe('the built-in detector (SSD-MobileNetV2, Open Images)', () => {
  let detector: Detector;
  let manifest: DetectorManifest;

  beforeAll(async () => {
    manifest = resolveDetectorManifest();
    detector = await Detector.load(manifest, config.onnx, logger);
  }, TIMEOUT_MS);
  afterAll(async () => {
    await detector.close();
  });

  it('loads once, on the CPU here, with the 1917 anchors its outputs need', () => {
    expect([detector.id, detector.provider, detector.anchors.length / 4, detector.labels.length]).toEqual(['ssd-mobilenetv2-oidv4', 'cpu', 1917, 24]);
  });

  it.each([
    ['a camera and a mug on a plain background', () => plainBackdrop('#d8cfc0'), [
      { stamp: 'hobbies/camera_35mm.png', label: 'Camera', left: 60, top: 80, width: 300 },
      { stamp: 'household/dishes/mug.png', label: 'Mug', left: 420, top: 260, width: 160 },
    ]],
    ['a dog and a car among other things, on a busy backdrop', busyBackdrop, [
      { stamp: 'animals/mammals/dogs/dog.png', label: 'Dog', left: 250, top: 30, width: 280 },
      { stamp: 'vehicles/auto/sedan.png', label: 'Car', left: 20, top: 340, width: 280 },
      { stamp: 'food/fruit/pineapple.png', label: '', left: 40, top: 40, width: 120 },
      { stamp: 'food/fruit/banana.png', label: '', left: 520, top: 360, width: 110 },
      { stamp: 'plants/flowers/rose.png', label: '', left: 170, top: 10, width: 90 },
      { stamp: 'household/tools/hammer.png', label: '', left: 330, top: 380, width: 150 },
      { stamp: 'household/kettle.png', label: '', left: 540, top: 10, width: 90 },
    ]],
    ['a person on a plain background', () => plainBackdrop('#a0a0b0'), [{ stamp: 'people/fireman240a.png', label: 'Person', left: 250, top: 20, width: 200 }]],
  ])('finds %s: a box of the right class over each (IoU ≥ 0.5), in the decoded image\'s pixels', async (_name, backdrop, placed) => {
    const { jpeg, truth } = await stampScene(await backdrop(), placed as PlacedStamp[]);
    const image = await decodeImage(jpeg); // 640×480 → the 512×384 working image
    expect([image.width, image.height]).toEqual([512, 384]);
    const found = await detector.detect(image);
    for (const item of truth.filter((t) => t.label)) {
      const scaled = { label: item.label, left: item.left * 0.8, top: item.top * 0.8, width: item.width * 0.8, height: item.height * 0.8 };
      const { detection, overlap } = bestMatch(found, scaled);
      expect({ label: item.label, found: detection !== undefined, iouAtLeastHalf: overlap >= 0.5 }).toEqual({ label: item.label, found: true, iouAtLeastHalf: true });
    }
    for (const d of found) {
      expect(d.left).toBeGreaterThanOrEqual(0);
      expect(d.top).toBeGreaterThanOrEqual(0);
      expect(d.left + d.width).toBeLessThanOrEqual(image.width);
      expect(d.top + d.height).toBeLessThanOrEqual(image.height);
    }
  }, TIMEOUT_MS);

  it('returns boxes by descending score, above the threshold, at most maxDetections; a batch gives what single runs give', async () => {
    const images: RgbImage[] = [];
    for (const stamp of ['hobbies/camera_35mm.png', 'household/dishes/mug.png', 'vehicles/auto/beetle.png']) {
      images.push(await decodeImage((await stampScene(await plainBackdrop('#ffffff'), [{ stamp, label: '', left: 150, top: 100, width: 320 }])).jpeg));
    }
    const batch = await detector.detectMany(images, { scoreThreshold: 0.05, maxDetections: 4 });
    for (const [i, image] of images.entries()) {
      const single = await detector.detect(image, { scoreThreshold: 0.05, maxDetections: 4 });
      expect(batch[i]!.map((d) => d.label)).toEqual(single.map((d) => d.label));
      batch[i]!.forEach((d, k) => {
        expect(d.score).toBeCloseTo(single[k]!.score, 4);
        expect(Math.abs(d.left - single[k]!.left) + Math.abs(d.width - single[k]!.width)).toBeLessThanOrEqual(2);
      });
      expect(single.length).toBeLessThanOrEqual(4);
      expect(single.every((d, k) => d.score >= 0.05 && (k === 0 || d.score <= single[k - 1]!.score))).toBe(true);
    }
    expect(batch.map((found) => found[0]!.label)).toEqual(['Camera', 'Mug', 'Car']);
    expect(await detector.detect(images[0]!, { scoreThreshold: 0.999 })).toEqual([]);
  }, TIMEOUT_MS);

  it('matches a numpy interpreter of the TF Lite model (models/tflite_reference.py) on a real photo within 1e-3', async () => {
    const { jpeg } = await stampScene(await busyBackdrop(), [{ stamp: 'household/dishes/mug.png', label: '', left: 200, top: 120, width: 240 }]);
    const image = await decodeImage(jpeg);
    const tensor = new Float32Array(300 * 300 * 3);
    writeTensor(await resizeForModel(image, null, manifest.input), manifest.input, tensor, 0);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detector-reference-'));
    try {
      fs.writeFileSync(path.join(dir, 'input.f32'), tensor);
      const result = spawnSync(python, ['build_ssd_detector.py', '--reference', objectron, path.join(dir, 'input.f32'), path.join(dir, 'out.f32')], { cwd: path.join(root, 'models'), encoding: 'utf8' });
      if (result.status !== 0) throw new Error(result.stderr);
      const bytes = fs.readFileSync(path.join(dir, 'out.f32'));
      const reference = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
      const raw = await detector.run(tensor, 1);
      const ours = [...raw.encodings[0]!, ...raw.logits[0]!];
      expect(ours.length).toBe(reference.length);
      let worst = 0;
      for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - reference[i]!));
      expect(worst).toBeLessThan(1e-3);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  }, 180_000);

  it('refuses at start-up a manifest whose labels or outputs disagree with the model', async () => {
    const wrongLabels = { ...manifest, labels: manifest.labels.slice(0, 23) };
    await expect(Detector.load(wrongLabels, config.onnx, logger)).rejects.toMatchObject({ code: 'model_signature_mismatch', message: expect.stringContaining('[1,1917,24]') });
    const wrongOutput = { ...manifest, output: { ...manifest.output, logits: 'scores' } };
    await expect(Detector.load(wrongOutput, config.onnx, logger)).rejects.toMatchObject({ code: 'model_signature_mismatch', message: expect.stringContaining('class_logits') });
  }, TIMEOUT_MS);
});
