import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../../core/config';
import { readLocalizerManifest } from '../../../../core/localization/manifest';
import { BUILTIN_MODEL_DIR, PRESET_MODEL_DIR, discoverManifests, int8CopyOn, quantizedManifest, readManifest, resolveManifests, vectorFieldSpecs } from '../../../../core/embedding/manifest';

describe('model manifests', () => {
  it('the built-ins and every preset are valid', () => {
    const builtin = discoverManifests([BUILTIN_MODEL_DIR]);
    expect([...builtin.keys()].sort()).toEqual(['colour-texture', 'efficientnet-lite0']);
    for (const manifest of builtin.values()) expect(manifest.sha256).toMatch(/^[0-9a-f]{64}$/);
    const presets = discoverManifests([PRESET_MODEL_DIR]);
    expect([...presets.keys()].sort()).toEqual(['clip-vit-b32', 'dinov2-vits14', 'efficientnet-b0', 'mobilenet-v3-large', 'resnet18', 'resnet50']);
    expect(Object.fromEntries([...presets.values()].map((m) => [m.id, m.dims]))).toEqual({
      'clip-vit-b32': 512, 'dinov2-vits14': 384, 'efficientnet-b0': 1280, 'mobilenet-v3-large': 960, resnet18: 512, resnet50: 2048,
    });
  });

  it('resolves the configured ids in order, and resolves index options: defaults < manifest < overrides', () => {
    const config = loadConfig({ MODELS: 'colour-texture,resnet18', VECTOR_INDEX_OVERRIDES: '{"resnet18":{"type":"bbq_hnsw","oversample":5}}' });
    const specs = vectorFieldSpecs(config, resolveManifests(config.models.ids));
    expect(specs).toEqual([
      { modelId: 'colour-texture', dims: 288, index: { type: 'int4_hnsw', m: 32, efConstruction: 200, oversample: 3 } },
      { modelId: 'resnet18', dims: 512, index: { type: 'bbq_hnsw', m: 32, efConstruction: 200, oversample: 5 } },
    ]);
  });

  it('reports every problem of a bad manifest in one error', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'manifest-'));
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, JSON.stringify({ id: 'Bad Id', version: '1', file: 'x.onnx', input: { name: 'i', width: 2, height: 224, layout: 'CHW' }, output: { name: 'o' }, dims: 0, extra: true }));
    expect(() => readManifest(file)).toThrow(/id: .*input\.width.*input\.layout.*dims/s);
    fs.writeFileSync(file, '{not json');
    expect(() => readManifest(file)).toThrow(/cannot read model manifest/);
    fs.rmSync(dir, { recursive: true });
  });

  it('quantized: the int8 copy is the same model from another file, resolved beside the manifest and pinned', () => {
    const [main, colour] = resolveManifests(['efficientnet-lite0', 'colour-texture']);
    const copy = quantizedManifest(main!)!;
    expect(copy).toMatchObject({ id: 'efficientnet-lite0', dims: 1280, input: main!.input, regions: main!.regions, sha256: main!.quantized!.sha256 });
    expect(copy.sha256).not.toBe(main!.sha256);
    expect(copy.modelPath).toBe(path.join(path.dirname(main!.modelPath), 'efficientnet-lite0-int8.onnx'));
    expect(copy).not.toHaveProperty('quantized');
    expect(quantizedManifest(colour!)).toBeUndefined();
    // The localizer runs the same file as the model, and the same int8 copy (LOCALIZE_MAP): one session for each.
    const localizer = readLocalizerManifest();
    expect([localizer.sha256, quantizedManifest(localizer)!.modelPath, localizer.quantized!.sha256]).toEqual([main!.sha256, copy.modelPath, copy.sha256]);
    // The copy is loaded on CPU only, for the embedder and the localizer's map alike.
    expect([int8CopyOn(main!, 'cpu'), int8CopyOn(localizer, 'cpu')?.modelPath]).toEqual([copy, copy.modelPath]);
    expect([int8CopyOn(main!, 'cuda'), int8CopyOn(localizer, 'cuda'), int8CopyOn(colour!, 'cpu')]).toEqual([undefined, undefined, undefined]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'manifest-'));
    const file = path.join(dir, 'mine.json');
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(BUILTIN_MODEL_DIR, 'efficientnet-lite0.json'), 'utf8')), file: 'mine.onnx', quantized: { file: 'sub/mine-int8.onnx', sha256: 'a'.repeat(64) } }));
    expect(quantizedManifest(readManifest(file))!.modelPath).toBe(path.join(dir, 'sub', 'mine-int8.onnx'));
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), quantized: { file: 'mine-int8.onnx' } }));
    expect(() => readManifest(file)).toThrow(/quantized\.sha256/);
    fs.rmSync(dir, { recursive: true });
  });
});
