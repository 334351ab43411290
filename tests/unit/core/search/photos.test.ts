import { embeddedPhoto, failedPhoto, matchedImage, photoCurrent, photoFields, upgradeDocument } from '../../../../core/search/photos';

const models = [{ id: 'a', version: '1' }, { id: 'b', version: '2' }];

describe('photos', () => {
  it('names the photo whose inner hits add up to the most of the score, across the models', () => {
    const hit = (offset: number, score: number) => ({ _nested: { offset }, _score: score });
    expect(matchedImage({ a: { hits: { hits: [hit(2, 0.6)] } }, b: { hits: { hits: [hit(1, 0.4)] } } })).toBe(2);
    // The semantic model's photo loses when the colour model agrees on another photo for a larger sum.
    expect(matchedImage({ a: { hits: { hits: [hit(0, 0.5)] } }, b: { hits: { hits: [hit(1, 0.3)] } }, exact: { hits: { hits: [hit(1, 0.3)] } } })).toBe(1);
    expect(matchedImage({ a: { hits: { hits: [] } } })).toBeNull();
    expect(matchedImage(undefined)).toBeNull();
  });

  it('is current only with every model at its version, of the photo’s own bytes, and never when it failed', () => {
    const photo = embeddedPhoto('http://x/1.jpg', 'h1', { a: [1], b: [1] }, models);
    expect(photoCurrent(photo, models)).toBe(true);
    expect(photoCurrent(photo, [{ id: 'a', version: '2' }])).toBe(false);
    expect(photoCurrent(photo, [...models, { id: 'c', version: '1' }])).toBe(false);
    expect(photoCurrent(photo, models, 'other-hash')).toBe(false);
    expect(photoCurrent(failedPhoto('http://x/2.jpg', 'fetch_not_found: 404', 'h2'), [])).toBe(false);
  });

  it('derives images, image_url and image_hash from the photos, the main one first', () => {
    const photos = [embeddedPhoto('http://x/1.jpg', 'h1', { a: [1] }, models), failedPhoto('http://x/2.jpg', 'fetch_not_found: 404')];
    expect(photoFields(photos)).toEqual({ images: ['http://x/1.jpg', 'http://x/2.jpg'], image_url: 'http://x/1.jpg', image_hash: 'h1', photos });
  });

  it('upgrades a one-photo document: its photo keeps its vectors and metadata; tombstones and new documents pass', () => {
    const embeddings = { a: { model_id: 'a', model_version: '1', image_hash: 'h1', embedded_at: '2026-01-01T00:00:00.000Z' } };
    const old = { id: 'p1', title: 't', image_url: 'http://x/1.jpg', image_hash: 'h1', vectors: { a: [0.5, 0.5] }, embeddings, source_version: 3 };
    expect(upgradeDocument(old)).toEqual({
      id: 'p1',
      title: 't',
      source_version: 3,
      images: ['http://x/1.jpg'],
      image_url: 'http://x/1.jpg',
      image_hash: 'h1',
      photos: [{ url: 'http://x/1.jpg', hash: 'h1', embeddings, vectors: { a: [0.5, 0.5] } }],
    });
    const tombstone = { id: 'p2', deleted: true, source_version: 4 };
    expect(upgradeDocument(tombstone)).toBe(tombstone);
    const current = { id: 'p3', ...photoFields([embeddedPhoto('http://x/3.jpg', 'h3', { a: [1] }, models)]) };
    expect(upgradeDocument(current)).toBe(current);
  });
});
