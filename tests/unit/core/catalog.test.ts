import { eventSchema } from '../../../core/catalog';

describe('catalog events', () => {
  const product = { id: 'sku-1', image_url: 'https://cdn.example.com/sku-1.jpg' };

  it('cannot carry request headers for their image: those come from FETCH_HEADERS only', () => {
    expect(eventSchema.safeParse({ id: 'e-1', type: 'product.upsert', version: 1, product }).success).toBe(true);
    for (const extra of [{ headers: { authorization: 'Bearer x' } }, { image_headers: { authorization: 'Bearer x' } }]) {
      expect(eventSchema.safeParse({ id: 'e-1', type: 'product.upsert', version: 1, product: { ...product, ...extra } }).success).toBe(false);
      expect(eventSchema.safeParse({ id: 'e-1', type: 'product.upsert', version: 1, product, ...extra }).success).toBe(false);
    }
  });
});
