import { hashImage, type DecodedImage } from '../../core/image/decode';
import * as preprocess from '../../core/image/preprocess';
import { remove, startImageServer, startPipeline, upsert, type Pipeline } from './pipeline-helpers';

jest.setTimeout(120_000);

/**
 * One image that fails deterministically inside embedding (here: its resizing throws) in a batch with unrelated work:
 * it fails alone, once, with its reason; every other item of the batch is applied, and applied once.
 */
describe('one bad image in a mixed batch', () => {
  let p: Pipeline;
  let images: Awaited<ReturnType<typeof startImageServer>>;
  beforeAll(async () => {
    images = await startImageServer();
    // A long batch wait, so the events of one webhook call land in one batch.
    p = await startPipeline({ BATCH_MAX_WAIT_MS: '400', JOB_ATTEMPTS: '3' });
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await p.close();
    await images.close();
  });

  const statusOf = async (id: string) => (await p.get(`/v1/products/${id}/status`)).body;
  const esVersion = async (id: string) => (await p.deps.es.get({ index: p.config.index.alias, id }))._version;

  it('fails alone as unrecoverable, and the other items (new, price change, delete) are applied exactly once', async () => {
    const url = (n: number) => `${images.url}/img/${n}.jpg`;
    await p.post({ events: [upsert('keep', 1, url(71)), upsert('gone', 1, url(72))] });
    await p.waitFor(async () => (await statusOf('keep')).state === 'indexed' && (await statusOf('gone')).state === 'indexed');
    const before = { keep: await esVersion('keep'), gone: await esVersion('gone') };

    const hashOf = async (n: number) => hashImage(Buffer.from(await (await fetch(url(n))).arrayBuffer()));
    const poison = await hashOf(77);
    const fresh = await hashOf(78);
    const prepared = new Map<string, number>();
    const real = preprocess.resizeForModel;
    jest.spyOn(preprocess, 'resizeForModel').mockImplementation(async (image, crop, spec) => {
      const hash = (image as DecodedImage).contentHash;
      prepared.set(hash, (prepared.get(hash) ?? 0) + 1);
      if (hash === poison) throw new Error('vips_affine: injected failure');
      return real(image, crop, spec);
    });

    const events = [upsert('poison', 1, url(77)), upsert('fresh', 1, url(78)), upsert('keep', 2, url(71), { price: 4.5 }), remove('gone', 2)];
    expect((await p.post({ events })).body).toEqual({ accepted: 4, duplicates: 0 });
    await p.waitFor(async () => {
      const states = await Promise.all(['poison', 'fresh', 'keep', 'gone'].map(async (id) => (await statusOf(id)).state));
      return states.join() === 'failed,indexed,indexed,deleted' && (await statusOf('keep')).version === 2;
    });

    expect(await statusOf('poison')).toMatchObject({ state: 'failed', last_error: expect.stringContaining('preprocess_failed') });
    const failed = await p.queue.getFailed();
    expect(failed.map((job) => [job.data.eventId, job.attemptsMade])).toEqual([['e-poison-1', 1]]);
    // Each of the others was written once: a new document at _version 1, one write more for the update and the delete.
    expect(await esVersion('fresh')).toBe(1);
    expect(await esVersion('keep')).toBe(before.keep! + 1);
    expect(await esVersion('gone')).toBe(before.gone! + 1);
    // And embedded once: one preparation per model for the new image.
    expect(prepared.get(fresh)).toBe(p.embedder.models.length);
    const outcomes = await p.registry.getSingleMetricAsString('lookalike_indexer_events_total');
    expect(outcomes).not.toContain('outcome="retry"');
    expect(outcomes).toMatch(/kind="upsert",outcome="failed"[^\n]*\} 1$/m);
  });
});
