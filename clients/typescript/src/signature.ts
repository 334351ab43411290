/**
 * `Lookalike-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, each hex being HMAC-SHA256 with a shared secret over
 * the bytes `<t>.<raw body>`: the header the API checks on catalog webhooks, and the one it puts on what it sends.
 * Several v1 values (one per secret) let secrets rotate. Web Crypto, so it runs in Node 20+, Deno, Bun, browsers and
 * edge runtimes alike; its HMAC verify compares in constant time.
 */

export const SIGNATURE_HEADER = 'Lookalike-Signature';

/** The codes the API answers for the same failures (core/webhook-signature.ts), so both sides speak alike. */
export type SignatureErrorCode = 'signature_missing' | 'signature_malformed' | 'signature_expired' | 'signature_mismatch';

/** A signature that does not verify, and why (`code`). */
export class SignatureVerificationError extends Error {
  override readonly name = 'SignatureVerificationError';
  constructor(
    readonly code: SignatureErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The same limits as the API's: a header past them is malformed rather than costly to check. */
const MAX_HEADER_LENGTH = 4096;
const MAX_SIGNATURES = 16;

const encoder = new TextEncoder();

function signedBytes(timestamp: number, body: string | Uint8Array): Uint8Array<ArrayBuffer> {
  const prefix = encoder.encode(`${timestamp}.`);
  const payload = typeof body === 'string' ? encoder.encode(body) : body;
  const bytes = new Uint8Array(prefix.length + payload.length);
  bytes.set(prefix);
  bytes.set(payload, prefix.length);
  return bytes;
}

function hmacKey(secret: string) {
  return crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

function secretList(secrets: string | readonly string[]): readonly string[] {
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  if (list.length === 0 || list.some((secret) => secret.length === 0)) throw new TypeError('give at least one secret, none of them empty');
  return list;
}

const toHex = (bytes: ArrayBuffer) => Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, '0')).join('');

function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** The current time in unix seconds, as the header carries it. */
const unixSeconds = (): number => Math.floor(Date.now() / 1000);

/** The hex HMAC-SHA256 of `<timestamp>.<body>` with `secret`: one v1 value. */
export async function computeSignature(secret: string, timestamp: number, body: string | Uint8Array): Promise<string> {
  return toHex(await crypto.subtle.sign('HMAC', await hmacKey(secret), signedBytes(timestamp, body)));
}

/**
 * The Lookalike-Signature value for `body` (the exact bytes that will be sent): `t=<timestamp>` and one v1 per secret.
 * @param timestamp unix seconds; default now.
 */
export async function signatureHeader(secrets: string | readonly string[], body: string | Uint8Array, timestamp: number = unixSeconds()): Promise<string> {
  const values = await Promise.all(secretList(secrets).map((secret) => computeSignature(secret, timestamp, body)));
  return [`t=${timestamp}`, ...values.map((value) => `v1=${value}`)].join(',');
}

/** The timestamp and v1 values of a header, or the reason it is malformed. */
function parseHeader(header: string): { timestamp: number; signatures: Uint8Array<ArrayBuffer>[] } {
  const malformed = (message: string) => new SignatureVerificationError('signature_malformed', message);
  if (header.length > MAX_HEADER_LENGTH) throw malformed(`the ${SIGNATURE_HEADER} header is too long`);
  let timestamp: number | undefined;
  const signatures: Uint8Array<ArrayBuffer>[] = [];
  for (const part of header.split(',')) {
    const at = part.indexOf('=');
    if (at < 1) throw malformed(`malformed ${SIGNATURE_HEADER} element "${part.slice(0, 40)}"`);
    const key = part.slice(0, at).trim();
    const value = part.slice(at + 1).trim();
    if (key === 't') {
      if (!/^\d{1,12}$/.test(value) || timestamp !== undefined) throw malformed('the timestamp t must appear once, in unix seconds');
      timestamp = Number(value);
    } else if (key === 'v1') {
      if (!/^[0-9a-fA-F]{64}$/.test(value)) throw malformed('each v1 must be 64 hex characters (HMAC-SHA256)');
      signatures.push(fromHex(value));
    }
    // Other schemes (a future v2) are ignored, so that a sender can add one while receivers migrate.
  }
  if (timestamp === undefined) throw malformed('the signature has no timestamp t');
  if (signatures.length === 0) throw malformed('the signature has no v1 value');
  if (signatures.length > MAX_SIGNATURES) throw malformed('too many v1 values');
  return { timestamp, signatures };
}

/**
 * Checks a Lookalike-Signature header against the raw body it came with (the bytes as received: verify before
 * parsing, since re-serialised JSON rarely matches byte for byte). Resolves when one v1 value is the HMAC of
 * `<t>.<rawBody>` with one of `secrets` and t is within `toleranceSeconds` of now (which refuses replays of old
 * messages); otherwise rejects with a SignatureVerificationError whose `code` says why.
 * @param secrets the shared secret, or several while rotating (any one may match).
 * @param now unix seconds; default the clock's.
 */
export async function verifySignature(
  header: string | null | undefined,
  rawBody: string | Uint8Array,
  secrets: string | readonly string[],
  toleranceSeconds: number,
  now: number = unixSeconds(),
): Promise<void> {
  const keys = secretList(secrets);
  if (!header) throw new SignatureVerificationError('signature_missing', `the ${SIGNATURE_HEADER} header is missing`);
  const { timestamp, signatures } = parseHeader(header);
  if (Math.abs(now - timestamp) > toleranceSeconds) {
    throw new SignatureVerificationError('signature_expired', `the signature timestamp is more than ${toleranceSeconds} s from now`);
  }
  const data = signedBytes(timestamp, rawBody);
  // Every pair is checked, none skipped after a match, so timing says nothing about which secret matched.
  const checks = await Promise.all(
    keys.map(async (secret) => {
      const key = await hmacKey(secret);
      return Promise.all(signatures.map((signature) => crypto.subtle.verify('HMAC', key, signature, data)));
    }),
  );
  if (!checks.flat().includes(true)) throw new SignatureVerificationError('signature_mismatch', 'no signature matches the body with any of the secrets');
}
