import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '../../core/config';
import { createEmbedder, type Embedder } from '../../core/embedding/embedder';
import { createLogger } from '../../core/logger';
import { StartupError } from '../../core/errors';

const root = path.resolve(__dirname, '..', '..');
const python = path.join(root, '.cache', 'venv', 'bin', 'python');
const clipart = '/usr/share/openclipart/png';
const logger = createLogger({ log: { level: 'silent' } });

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot; // both are unit vectors
}

/** Writes a tiny ONNX model and its manifest into `dir`. */
function tinyModel(dir: string, id: string, build: string[], manifest: Record<string, unknown>): void {
  const file = path.join(dir, `${id}.onnx`);
  const result = spawnSync(python, [path.join(root, 'models', 'build_tiny_model.py'), file, ...build], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  fs.writeFileSync(path.join(dir, `${id}.json`), JSON.stringify({ id, version: '1', file: `${id}.onnx`, dims: 16, ...manifest }));
}

describe('the built-in models', () => {
  let embedder: Embedder;
  const config = loadConfig({ LOG_LEVEL: 'silent', ONNX_EXECUTION_PROVIDER: 'cpu' });

  beforeAll(async () => {
    embedder = await createEmbedder(config, logger);
  });
  afterAll(async () => {
    await embedder.close();
  });

  it('load once each, on the CPU here, with the dims of their manifests', () => {
    expect(embedder.models.map((m) => [m.id, m.dims, m.provider])).toEqual([
      ['efficientnet-lite0', 1280, 'cpu'],
      ['colour-texture', 288, 'cpu'],
    ]);
  });

  it('give the same vector for an image at batch size 1 and inside a batch of 32', async () => {
    // Real drawings within the pixel limit (a few in the package are 168-megapixel PNGs, refused by design).
    const directory = path.join(clipart, 'food', 'fruit');
    const images: Buffer[] = [];
    for (const file of fs.readdirSync(directory).filter((f) => f.endsWith('.png')).sort()) {
      const bytes = fs.readFileSync(path.join(directory, file));
      const { width = 0, height = 0 } = await sharp(bytes).metadata();
      if (width * height <= config.image.maxPixels) images.push(bytes);
      if (images.length === 32) break;
    }
    expect(images).toHaveLength(32);
    const batch = await embedder.embedMany(images);
    for (const position of [0, 7, 31]) {
      const single = await embedder.embed(images[position]!);
      const inBatch = batch[position]!;
      if (!inBatch.ok) throw inBatch.error;
      for (let m = 0; m < 2; m++) {
        const a = single.embeddings[m]!.vector;
        const b = inBatch.image.embeddings[m]!.vector;
        let maxDiff = 0;
        for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
        expect(maxDiff).toBeLessThan(1e-4);
      }
    }
  });

  it('finds a distorted photo of an item closer to the item than to other items', async () => {
    const banana = fs.readFileSync(path.join(clipart, 'food', 'fruit', 'banana.png'));
    const guitar = fs.readFileSync(path.join(clipart, 'recreation', 'music', 'guitar_ganson.png'));
    const distorted = await sharp(banana).flatten({ background: '#e8e0d0' }).rotate(8, { background: '#e8e0d0' }).blur(1.2).jpeg({ quality: 40 }).toBuffer();
    const [a, b, c] = await Promise.all([banana, distorted, guitar].map((bytes) => embedder.embed(bytes)));
    for (let m = 0; m < 2; m++) {
      const same = cosine(a!.embeddings[m]!.vector, b!.embeddings[m]!.vector);
      const other = cosine(b!.embeddings[m]!.vector, c!.embeddings[m]!.vector);
      expect(same).toBeGreaterThan(other + 0.1);
    }
  });

  it('reports the crop box in the original image and fails a refused image alone', async () => {
    const product = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#ffffff' } })
      .composite([{ input: await sharp({ create: { width: 200, height: 300, channels: 3, background: '#cc2222' } }).png().toBuffer(), left: 300, top: 150 }])
      .jpeg()
      .toBuffer();
    const outcomes = await embedder.embedMany([product, Buffer.from('not an image')]);
    expect(outcomes[1]).toMatchObject({ ok: false, error: { code: 'unsupported_image' } });
    if (!outcomes[0]!.ok) throw outcomes[0]!.error;
    const crop = outcomes[0]!.image.embeddings[0]!.crop!;
    expect(crop.left).toBeGreaterThan(280);
    expect(crop.left).toBeLessThanOrEqual(300);
    expect(crop.top).toBeGreaterThan(130);
    expect(crop.left + crop.width).toBeGreaterThanOrEqual(500);
    expect(crop.top + crop.height).toBeGreaterThanOrEqual(450);
    const none = await embedder.embed(product, { crop: 'none' });
    expect(none.embeddings[0]!.crop).toBeNull();
  });
});

describe('models you bring', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-models-'));
    const input = { name: 'pixels', width: 32, height: 32 };
    tinyModel(dir, 'tiny-maps', ['--kind', 'maps', '--input', 'pixels', '--output', 'fmap'], {
      input: { ...input, scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
      output: { name: 'fmap', pooling: 'mean' },
      autocrop: 'none',
    });
    tinyModel(dir, 'tiny-vit', ['--kind', 'tokens', '--layout', 'NHWC', '--input', 'pixels', '--output', 'tokens'], {
      input: { ...input, layout: 'NHWC', colorOrder: 'BGR', resize: 'letterbox' },
      output: { name: 'tokens', pooling: 'cls' },
    });
    tinyModel(dir, 'tiny-wrong-dims', ['--kind', 'flat', '--input', 'pixels', '--output', 'out'], { dims: 24, input, output: { name: 'out' } });
    tinyModel(dir, 'tiny-wrong-input', ['--kind', 'flat'], { input, output: { name: 'output' } });
    tinyModel(dir, 'tiny-bad-checksum', ['--kind', 'flat', '--input', 'pixels', '--output', 'out'], { sha256: '0'.repeat(64), input, output: { name: 'out' } });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const configFor = (models: string) => loadConfig({ LOG_LEVEL: 'silent', ONNX_EXECUTION_PROVIDER: 'cpu', MODEL_DIR: dir, MODELS: models });

  it('load several at once, with NHWC/BGR input and mean or cls pooling', async () => {
    const embedder = await createEmbedder(configFor('tiny-maps,tiny-vit,colour-texture'), logger);
    try {
      const image = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3366aa' } }).png().toBuffer();
      const result = await embedder.embed(image);
      expect(result.embeddings.map((e) => [e.model, e.vector.length])).toEqual([['tiny-maps', 16], ['tiny-vit', 16], ['colour-texture', 288]]);
      for (const embedding of result.embeddings) expect(Math.hypot(...embedding.vector)).toBeCloseTo(1, 4);
      const only = await embedder.embed(image, { models: ['tiny-vit'] });
      expect(only.embeddings.map((e) => e.model)).toEqual(['tiny-vit']);
      await expect(embedder.embed(image, { models: ['nope'] })).rejects.toMatchObject({ code: 'unknown_model', status: 400 });
    } finally {
      await embedder.close();
    }
  });

  it.each([
    ['tiny-wrong-dims', 'model_dims_mismatch', /outputs 16 values per image after pooling, the manifest says 24/],
    ['tiny-wrong-input', 'model_signature_mismatch', /no input "pixels"/],
    ['tiny-bad-checksum', 'model_checksum_mismatch', /the manifest pins 0000/],
    ['no-such-model', 'unknown_model', /no manifest for model\(s\) no-such-model/],
  ])('%s stops start-up with %s', async (id, code, message) => {
    const attempt = createEmbedder(configFor(id), logger);
    await expect(attempt).rejects.toBeInstanceOf(StartupError);
    await expect(createEmbedder(configFor(id), logger)).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
  });
});

describe('lookalike embed', () => {
  it('prints one JSON line per image, errors included, and exits 1 when any image failed', () => {
    const banana = path.join(clipart, 'food', 'fruit', 'banana.png');
    const text = path.join(os.tmpdir(), `lookalike-not-an-image-${process.pid}.txt`);
    fs.writeFileSync(text, 'hello');
    const run = (args: string[]) => spawnSync(process.execPath, [path.join(root, 'bin', 'lookalike.js'), 'embed', ...args], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'silent' } });
    const ok = run(['--json', '--model', 'colour-texture', banana]);
    expect(ok.status).toBe(0);
    const line = JSON.parse(ok.stdout.trim());
    expect(Object.keys(line)).toEqual(['file', 'model', 'dims', 'crop', 'timings_ms', 'vector']);
    expect(line).toMatchObject({ file: banana, model: 'colour-texture', dims: 288 });
    expect(line.vector).toHaveLength(288);
    const mixed = run(['--json', banana, text]);
    expect(mixed.status).toBe(1);
    const lines = mixed.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ file: banana, model: 'efficientnet-lite0', dims: 1280 });
    expect(lines[1]).toEqual({ file: text, error: { code: 'unsupported_image', message: expect.any(String) } });
    fs.rmSync(text);
  });
});
