import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../../core/config';
import { BUILTIN_MODEL_DIR, PRESET_MODEL_DIR, discoverManifests, readManifest, resolveManifests, vectorFieldSpecs } from '../../../../core/embedding/manifest';

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
      { modelId: 'colour-texture', dims: 288, index: { type: 'int8_hnsw', m: 16, efConstruction: 100, oversample: 3 } },
      { modelId: 'resnet18', dims: 512, index: { type: 'bbq_hnsw', m: 16, efConstruction: 100, oversample: 5 } },
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
});
