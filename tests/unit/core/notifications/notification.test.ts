import { DEFAULT_CATALOG, notificationBody, notificationBodySchema, notificationEvent } from '../../../../core/notifications/notification';

describe('notification events', () => {
  it('carry type, product, catalog, version and time; failures carry their reason', () => {
    const indexed = notificationEvent('product.indexed', 'sku-1', 7);
    expect(indexed).toEqual({ type: 'product.indexed', product_id: 'sku-1', catalog: DEFAULT_CATALOG, version: 7, at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/) });
    expect(DEFAULT_CATALOG).toBe('default');
    expect(notificationEvent('product.failed', 'sku-1', 8, 'fetch_not_found: the image URL answered 404')).toMatchObject({ type: 'product.failed', error: 'fetch_not_found: the image URL answered 404' });
    expect(notificationEvent('product.deleted', 'sku-1', 9, 'ignored')).not.toHaveProperty('error');
  });

  it('go out alone as themselves, several as { events }, in the documented shape', () => {
    const a = notificationEvent('product.indexed', 'sku-1', 1);
    const b = notificationEvent('product.deleted', 'sku-2', 2);
    expect(JSON.parse(notificationBody([a]))).toEqual(a);
    expect(JSON.parse(notificationBody([a, b]))).toEqual({ events: [a, b] });
    for (const body of [notificationBody([a]), notificationBody([a, b])]) expect(notificationBodySchema.safeParse(JSON.parse(body)).success).toBe(true);
    expect(() => notificationBody([])).toThrow();
  });
});
