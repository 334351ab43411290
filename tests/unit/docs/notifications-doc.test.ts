import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { notificationBody, notificationEvent } from '../../../core/notifications/notification';
import { signatureHeader } from '../../../core/webhook-signature';

/**
 * The receiver snippet in docs/notifications.md is what users copy: its verification function, taken from the
 * document as written, must accept what the indexer signs and refuse the rest.
 */
type Verify = (header: string | undefined, rawBody: Buffer, secrets: string[], now?: number) => boolean;

function verifierFromDocs(): Verify {
  const text = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'docs', 'notifications.md'), 'utf8');
  const start = text.indexOf('function verifyLookalikeSignature');
  const end = text.indexOf('\n}\n', start);
  expect(start).toBeGreaterThan(0);
  // Running the documented code itself is the point: a copy here could drift from the page.
  return new Function('crypto', 'TOLERANCE_S', `${text.slice(start, end + 2)}\nreturn verifyLookalikeSignature;`)(crypto, 300) as Verify;
}

describe('docs/notifications.md: the verification snippet', () => {
  const verify = verifierFromDocs();
  const body = Buffer.from(notificationBody([notificationEvent('product.indexed', 'sku-1', 'default', 7), notificationEvent('product.deleted', 'sku-2', 'store-a', 2)]));

  it('accepts what the indexer signs, with any secret of a rotation', () => {
    expect(verify(signatureHeader(['s1'], body), body, ['s1'])).toBe(true);
    const rotating = signatureHeader(['old', 'new'], body);
    expect(verify(rotating, body, ['new'])).toBe(true);
    expect(verify(rotating, body, ['old'])).toBe(true);
  });

  it('refuses a wrong secret, a changed body, an old timestamp and a missing or malformed header', () => {
    const now = Math.floor(Date.now() / 1000);
    expect(verify(signatureHeader(['s1'], body), body, ['s2'])).toBe(false);
    expect(verify(signatureHeader(['s1'], body), Buffer.from(body.toString().replace('sku-1', 'sku-9')), ['s1'])).toBe(false);
    expect(verify(signatureHeader(['s1'], body, now - 600), body, ['s1'])).toBe(false);
    expect(verify(undefined, body, ['s1'])).toBe(false);
    expect(verify('t=123', body, ['s1'])).toBe(false);
    expect(verify('v1=zz', body, ['s1'])).toBe(false);
  });
});
