import sharp from 'sharp';
import { loadConfig } from '../../../../core/config';
import { Embedder, searchEmbedderOptions } from '../../../../core/embedding/embedder';
import type { EmbeddingModel } from '../../../../core/embedding/onnx-model';
import * as preprocess from '../../../../core/image/preprocess';
import { productOnBackground } from '../../../fixtures/images';

/**
 * The embedder with a fake model (no ONNX): each image of a batch succeeds or fails on its own, whatever stage
 * throws for it.
 */
const input = { name: 'image', width: 16, height: 16, layout: 'NCHW' as const, colorOrder: 'RGB' as const, resize: 'stretch' as const, scale: 1, mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number], padColor: [0, 0, 0] as [number, number, number] };

/** A model whose vector is the mean of the input, and which throws on any batch holding a "poisoned" image (mean > 250). */
function fakeModel(runs: number[]): EmbeddingModel {
  const inputSize = 3 * 16 * 16;
  return {
    id: 'fake',
    version: '1',
    dims: 2,
    inputSize,
    manifest: { input, autocrop: 'none' },
    async embed(batch: Float32Array, count: number) {
      runs.push(count);
      const vectors: Float32Array[] = [];
      for (let slot = 0; slot < count; slot++) {
        const pixels = batch.subarray(slot * inputSize, (slot + 1) * inputSize);
        const mean = pixels.reduce((sum, v) => sum + v, 0) / pixels.length;
        if (mean > 250) throw new Error('the runtime failed on this batch');
        vectors.push(Float32Array.from([mean, 1]));
      }
      return vectors;
    },
    async embedOutputs(this: EmbeddingModel, batch: Float32Array, count: number) {
      return (await this.embed(batch, count)).map((vector) => ({ vector }));
    },
  } as unknown as EmbeddingModel;
}

const solid = (value: number) => sharp({ create: { width: 40, height: 30, channels: 3, background: { r: value, g: value, b: value } } }).png().toBuffer();

describe('Embedder.embedMany: every image fails alone', () => {
  afterEach(() => jest.restoreAllMocks());

  it('an image whose preprocessing throws fails with its reason; the rest of the batch is embedded', async () => {
    const runs: number[] = [];
    const embedder = new Embedder([fakeModel(runs)], loadConfig({}).image);
    const images = [await solid(10), await productOnBackground(), await solid(90)];
    const poisoned = (await sharp(images[1]!).metadata()).width;
    const real = preprocess.resizeForModel;
    jest.spyOn(preprocess, 'resizeForModel').mockImplementation(async (image, crop, spec) => {
      if (image.width === Math.min(poisoned!, 512)) throw new Error('vips_resize: out of memory');
      return real(image, crop, spec);
    });
    const outcomes = await embedder.embedMany(images);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    const failed = outcomes[1]!;
    expect(!failed.ok && failed.error.code).toBe('preprocess_failed');
    expect(!failed.ok && failed.error.message).toContain('vips_resize: out of memory');
    // One run for the batch (the failed image's slot rides along and its output is dropped): no retries.
    expect(runs).toEqual([3]);
  });

  it('a model run that throws is retried image by image, so only the image that causes it fails', async () => {
    const runs: number[] = [];
    const embedder = new Embedder([fakeModel(runs)], loadConfig({}).image);
    const outcomes = await embedder.embedMany([await solid(10), await solid(255), await solid(90)]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    const failed = outcomes[1]!;
    expect(!failed.ok && failed.error.code).toBe('embedding_failed');
    const vectors = outcomes.map((o) => (o.ok ? Array.from(o.image.embeddings[0]!.vector) : null));
    expect(vectors[0]![0]).toBeCloseTo(10, 0);
    expect(vectors[2]![0]).toBeCloseTo(90, 0);
    // One batch run of 3, then each image alone.
    expect(runs).toEqual([3, 1, 1, 1]);
  });
});

describe('Embedder.embedRegions: the int8 copy when asked', () => {
  /** A model whose vector says which copy ran: [1, 0] the model, [0, 1] its int8 copy. */
  const model = (vector: number[], runs: string[], name: string) =>
    ({
      id: 'fake', version: '1', dims: 2, inputSize: 3 * 16 * 16, manifest: { input, autocrop: 'none' },
      async embedOutputs(_batch: Float32Array, count: number) {
        runs.push(`${name}×${count}`);
        return Array.from({ length: count }, () => ({ vector: Float32Array.from(vector) }));
      },
    }) as unknown as EmbeddingModel;

  it('runs the copy for the regions only with `quantized`, and the model otherwise', async () => {
    const runs: string[] = [];
    const embedder = new Embedder([model([1, 0], runs, 'model')], loadConfig({}).image, [model([0, 1], runs, 'int8')]);
    const image = await embedder.decode(await productOnBackground());
    const boxes = [null, { left: 0, top: 0, width: 10, height: 10 }];
    expect(embedder.hasQuantized('fake')).toBe(true);
    expect((await embedder.embedRegions(image, boxes, { quantized: true })).map((v) => Array.from(v.fake!))).toEqual([[0, 1], [0, 1]]);
    expect((await embedder.embedRegions(image, boxes)).map((v) => Array.from(v.fake!))).toEqual([[1, 0], [1, 0]]);
    expect(runs).toEqual(['int8×2', 'model×2']);
    // Photos are always embedded by the model itself (what the index stores).
    const [outcome] = await embedder.embedMany([await productOnBackground()]);
    expect(outcome!.ok && Array.from(outcome!.image.embeddings[0]!.vector)).toEqual([1, 0]);
    // Without a copy loaded, `quantized` runs the model.
    const plain = new Embedder([model([1, 0], runs, 'model')], loadConfig({}).image);
    expect(plain.hasQuantized('fake')).toBe(false);
    expect((await plain.embedRegions(image, [null], { quantized: true })).map((v) => Array.from(v.fake!))).toEqual([[1, 0]]);
  });
});

describe('searchEmbedderOptions', () => {
  it('loads the int8 copies for the search API when they rank localization candidates (LOCALIZE_SCORER)', () => {
    expect(searchEmbedderOptions(loadConfig({}))).toEqual({ quantized: true });
    expect(searchEmbedderOptions(loadConfig({ LOCALIZE_SCORER: 'float' }))).toEqual({ quantized: false });
  });
});
