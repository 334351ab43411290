import { signatureHeader as serverSignatureHeader, verifySignature as serverVerify } from '../../../../core/webhook-signature';
import { computeSignature, signatureHeader, SignatureVerificationError, verifySignature } from '../../../../clients/typescript/src/signature';

/** The client's signatures and the server's (core/webhook-signature.ts) must be interchangeable, byte for byte. */
const body = JSON.stringify({ id: 'evt-1', type: 'product.delete', version: 2, product_id: 'sku-é' });
const now = 1_750_000_000;

async function failure(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => null, (e: unknown) => e);
  if (!(error instanceof SignatureVerificationError)) throw new Error(`expected a SignatureVerificationError, got ${String(error)}`);
  return error.code;
}

describe('client webhook signatures', () => {
  it('signs as the server signs, for a string body and for the same bytes', async () => {
    expect(await signatureHeader('s3cret', body, now)).toBe(serverSignatureHeader(['s3cret'], body, now));
    expect(await signatureHeader(['old', 'new'], Buffer.from(body), now)).toBe(serverSignatureHeader(['old', 'new'], body, now));
    expect(await computeSignature('s3cret', now, body)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the server verifies what the client signs', async () => {
    const header = await signatureHeader('s3cret', body, now);
    expect(() => serverVerify(header, Buffer.from(body), { secrets: ['s3cret'], toleranceSeconds: 300, now })).not.toThrow();
  });

  it('verifies what the server signs, with any of several secrets (rotation)', async () => {
    const header = serverSignatureHeader(['new'], body, now);
    await expect(verifySignature(header, body, ['old', 'new'], 300, now)).resolves.toBeUndefined();
    await expect(verifySignature(header, Buffer.from(body), 'new', 300, now + 300)).resolves.toBeUndefined();
    // Unknown schemes beside v1 are ignored, as the server ignores them.
    await expect(verifySignature(`${header},v0=abc`, body, 'new', 300, now)).resolves.toBeUndefined();
  });

  it('refuses a missing, malformed, expired or mismatched signature with the code the API uses', async () => {
    const header = serverSignatureHeader(['s3cret'], body, now);
    expect(await failure(verifySignature(undefined, body, 's3cret', 300, now))).toBe('signature_missing');
    expect(await failure(verifySignature('', body, 's3cret', 300, now))).toBe('signature_missing');
    for (const malformed of ['garbage', `t=${now}`, `t=soon,v1=${'a'.repeat(64)}`, `t=${now},v1=abc`, `t=${now},t=${now},v1=${'a'.repeat(64)}`, `${header},${'v1=0'.padEnd(4200, '0')}`]) {
      expect({ malformed, code: await failure(verifySignature(malformed, body, 's3cret', 300, now)) }).toEqual({ malformed, code: 'signature_malformed' });
    }
    expect(await failure(verifySignature(header, body, 's3cret', 300, now + 301))).toBe('signature_expired');
    expect(await failure(verifySignature(header, body, 's3cret', 300, now - 301))).toBe('signature_expired');
    expect(await failure(verifySignature(header, body, 'other', 300, now))).toBe('signature_mismatch');
    expect(await failure(verifySignature(header, `${body} `, 's3cret', 300, now))).toBe('signature_mismatch');
  });

  it('needs a secret to sign or verify with', async () => {
    await expect(signatureHeader([], body, now)).rejects.toThrow(TypeError);
    await expect(verifySignature('t=1,v1=' + 'a'.repeat(64), body, [''], 300, now)).rejects.toThrow(TypeError);
  });
});
