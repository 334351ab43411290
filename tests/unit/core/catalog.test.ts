import { MAX_IMAGES, eventSchema, parseWebhookBody, productImages } from '../../../core/catalog';
import { ValidationError } from '../../../core/errors';

describe('catalog events', () => {
  const product = { id: 'sku-1', image_url: 'https://cdn.example.com/sku-1.jpg' };
  const upsert = (fields: Record<string, unknown>) => ({ id: 'e-1', type: 'product.upsert', version: 1, product: { id: 'sku-1', ...fields } });
  const urls = (n: number) => Array.from({ length: n }, (_, i) => `https://cdn.example.com/sku-1-${i}.jpg`);
  const refusal = (body: unknown): ValidationError => {
    try {
      parseWebhookBody(body);
    } catch (error) {
      return error as ValidationError;
    }
    throw new Error('accepted');
  };

  it('cannot carry request headers for their image: those come from FETCH_HEADERS only', () => {
    expect(eventSchema.safeParse({ id: 'e-1', type: 'product.upsert', version: 1, product }).success).toBe(true);
    for (const extra of [{ headers: { authorization: 'Bearer x' } }, { image_headers: { authorization: 'Bearer x' } }]) {
      expect(eventSchema.safeParse({ id: 'e-1', type: 'product.upsert', version: 1, product: { ...product, ...extra } }).success).toBe(false);
      expect(eventSchema.safeParse({ id: 'e-1', type: 'product.upsert', version: 1, product, ...extra }).success).toBe(false);
    }
  });

  it('takes 1 to 10 photos in images, or one in image_url (the one-photo form)', () => {
    const [event] = parseWebhookBody(upsert({ images: urls(MAX_IMAGES) }));
    expect(productImages((event as { product: { images?: string[] } }).product)).toEqual(urls(MAX_IMAGES));
    const [single] = parseWebhookBody(upsert({ image_url: product.image_url }));
    expect(productImages((single as { product: { image_url?: string } }).product)).toEqual([product.image_url]);
  });

  it('refuses more than 10 photos and a photo listed twice, each with its own code', () => {
    expect(refusal(upsert({ images: urls(MAX_IMAGES + 1) }))).toMatchObject({ status: 400, code: 'too_many_images' });
    const twice = refusal(upsert({ images: [...urls(2), urls(1)[0]] }));
    expect(twice).toMatchObject({ status: 400, code: 'duplicate_images' });
    expect(twice.message).toMatch(/product\.images\.2: .* appears twice/);
  });

  it('refuses no photo, both forms at once, an empty list and a bad URL as invalid_event', () => {
    expect(refusal(upsert({})).code).toBe('invalid_event');
    expect(refusal(upsert({ images: urls(1), image_url: product.image_url })).message).toMatch(/images or image_url, not both/);
    expect(refusal(upsert({ images: [] })).code).toBe('invalid_event');
    expect(refusal(upsert({ images: ['ftp://cdn.example.com/a.jpg'] })).code).toBe('invalid_event');
    // A duplicate among other problems is not only a duplicate: the general code.
    expect(refusal(upsert({ images: [...urls(1), urls(1)[0]], price: -1 })).code).toBe('invalid_event');
  });
});
