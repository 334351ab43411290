import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUILTIN_DETECTOR_DIR, DEFAULT_DETECTOR_ID, readDetectorManifest, resolveDetectorManifest } from '../../../../core/detection/manifest';
import { BUILTIN_MODEL_DIR, discoverManifests } from '../../../../core/embedding/manifest';

describe('detector manifests', () => {
  it('the built-in detector is valid: its 24 labels (background first), a pinned checksum, a stretched NHWC input', () => {
    const manifest = resolveDetectorManifest();
    expect(manifest.id).toBe(DEFAULT_DETECTOR_ID);
    expect(manifest.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.labels).toHaveLength(24);
    expect(manifest.labels[0]).toBe('???');
    expect(manifest.labels).toEqual(expect.arrayContaining(['Footwear', 'Boot', 'High heels', 'Mug', 'Coffee cup', 'Bottle', 'Laptop', 'Chair', 'Book', 'Camera', 'Car', 'Person', 'Cat', 'Dog']));
    expect(manifest.input).toMatchObject({ width: 300, height: 300, layout: 'NHWC', resize: 'stretch', mean: [1, 1, 1], std: [1, 1, 1] });
    expect(manifest.input.scale * 255 - 1).toBeCloseTo(1, 12); // 255 → +1, 0 → -1
    expect(manifest.modelPath).toBe(path.resolve(BUILTIN_MODEL_DIR, '..', '..', '.cache', 'models', `${DEFAULT_DETECTOR_ID}.onnx`));
  });

  it('is never taken for an embedding model', () => {
    expect(fs.existsSync(path.join(BUILTIN_DETECTOR_DIR, `${DEFAULT_DETECTOR_ID}.json`))).toBe(true);
    expect(discoverManifests([BUILTIN_MODEL_DIR]).has(DEFAULT_DETECTOR_ID)).toBe(false);
  });

  it('an unknown id is a StartupError naming the known detectors', () => {
    expect(() => resolveDetectorManifest('yolo')).toThrow(expect.objectContaining({ code: 'unknown_detector', message: expect.stringContaining(DEFAULT_DETECTOR_ID) }));
    expect(() => resolveDetectorManifest('../efficientnet-lite0')).toThrow(expect.objectContaining({ code: 'unknown_detector' }));
  });

  it('reports every problem of a bad manifest in one error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detector-manifest-'));
    const file = path.join(dir, 'bad.json');
    const good = JSON.parse(fs.readFileSync(path.join(BUILTIN_DETECTOR_DIR, `${DEFAULT_DETECTOR_ID}.json`), 'utf8'));
    fs.writeFileSync(file, JSON.stringify({ ...good, labels: ['only'], anchors: { ...good.anchors, featureMapSizes: [] }, boxCoder: { yScale: 0 }, dims: 3 }));
    expect(() => readDetectorManifest(file)).toThrow(expect.objectContaining({ code: 'invalid_detector_manifest', message: expect.stringMatching(/labels.*anchors\.featureMapSizes.*boxCoder.*dims/s) }));
    fs.writeFileSync(file, JSON.stringify({ ...good, id: 'other' }));
    expect(() => resolveDetectorManifest('bad', dir)).toThrow(expect.objectContaining({ code: 'invalid_detector_manifest', message: expect.stringContaining('has id other') }));
    fs.rmSync(dir, { recursive: true });
  });
});
