import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from './errors';

/**
 * `Lookalike-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]` where each hex is HMAC-SHA256 with a shared secret over
 * the bytes `<t>.<raw body>`. Several secrets (WEBHOOK_SECRETS, comma-separated) are accepted at once for rotation;
 * senders may send one v1 per secret. Every failure is a 401 with its own stable code.
 */
export const SIGNATURE_HEADER = 'lookalike-signature';

export type SignatureErrorCode = 'signature_missing' | 'signature_malformed' | 'signature_expired' | 'signature_mismatch';

export class SignatureError extends AppError {
  constructor(code: SignatureErrorCode, message: string) {
    super(code, message, 401);
  }
}

export function sign(secret: string, timestamp: number, body: Buffer | string): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** The header value a sender would send: one v1 per secret. */
export function signatureHeader(secrets: string[], body: Buffer | string, timestamp = Math.floor(Date.now() / 1000)): string {
  return [`t=${timestamp}`, ...secrets.map((secret) => `v1=${sign(secret, timestamp, body)}`)].join(',');
}

export interface VerifyOptions {
  secrets: string[];
  toleranceSeconds: number;
  now?: number;
}

/** Throws SignatureError unless one v1 matches one secret over `<t>.<body>` and t is within the tolerance. */
export function verifySignature(header: string | undefined, body: Buffer, options: VerifyOptions): void {
  if (!header) throw new SignatureError('signature_missing', `the ${SIGNATURE_HEADER} header is missing`);
  if (header.length > 4096) throw new SignatureError('signature_malformed', `the ${SIGNATURE_HEADER} header is too long`);
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const at = part.indexOf('=');
    if (at < 1) throw new SignatureError('signature_malformed', `malformed ${SIGNATURE_HEADER} element "${part.slice(0, 40)}"`);
    const key = part.slice(0, at).trim();
    const value = part.slice(at + 1).trim();
    if (key === 't') {
      if (!/^\d{1,12}$/.test(value) || timestamp !== undefined) throw new SignatureError('signature_malformed', 'the timestamp t must appear once, in unix seconds');
      timestamp = Number(value);
    } else if (key === 'v1') {
      if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new SignatureError('signature_malformed', 'each v1 must be 64 hex characters (HMAC-SHA256)');
      signatures.push(Buffer.from(value, 'hex'));
    }
    // Other schemes (v0, future vN) are ignored, so senders can add them during a migration.
  }
  if (timestamp === undefined) throw new SignatureError('signature_malformed', 'the signature has no timestamp t');
  if (signatures.length === 0) throw new SignatureError('signature_malformed', 'the signature has no v1 value');
  if (signatures.length > 16) throw new SignatureError('signature_malformed', 'too many v1 values');
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - timestamp) > options.toleranceSeconds) {
    throw new SignatureError('signature_expired', `the signature timestamp is more than ${options.toleranceSeconds} s from now`);
  }
  let matched = false;
  for (const secret of options.secrets) {
    const expected = Buffer.from(sign(secret, timestamp, body), 'hex');
    // Compare against every value, without stopping early, so timing says nothing about which one matched.
    for (const candidate of signatures) if (timingSafeEqual(expected, candidate)) matched = true;
  }
  if (!matched) throw new SignatureError('signature_mismatch', 'no signature matches the body with any configured secret');
}
