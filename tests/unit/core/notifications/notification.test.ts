import { notificationBody, notificationBodySchema, notificationEvent } from '../../../../core/notifications/notification';

describe('notification events', () => {
  it('carry type, product, catalog, version and time; failures carry their reason', () => {
    const indexed = notificationEvent('product.indexed', 'sku-1', 'store-a', 7);
    expect(indexed).toEqual({ type: 'product.indexed', product_id: 'sku-1', catalog: 'store-a', version: 7, at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/) });
    expect(notificationEvent('product.failed', 'sku-1', 'default', 8, 'fetch_not_found: the image URL answered 404')).toMatchObject({ type: 'product.failed', error: 'fetch_not_found: the image URL answered 404' });
    expect(notificationEvent('product.deleted', 'sku-1', 'default', 9, 'ignored')).not.toHaveProperty('error');
  });

  it('go out alone as themselves, several as { events }, in the documented shape', () => {
    const a = notificationEvent('product.indexed', 'sku-1', 'default', 1);
    const b = notificationEvent('product.deleted', 'sku-2', 'default', 2);
    expect(JSON.parse(notificationBody([a]))).toEqual(a);
    expect(JSON.parse(notificationBody([a, b]))).toEqual({ events: [a, b] });
    for (const body of [notificationBody([a]), notificationBody([a, b])]) expect(notificationBodySchema.safeParse(JSON.parse(body)).success).toBe(true);
    expect(() => notificationBody([])).toThrow();
  });
});
