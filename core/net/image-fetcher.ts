import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Config } from '../config';
import { AppError } from '../errors';
import { sniffFormat } from '../image/formats';
import { isAllowedByList, parseAllowList, refusalReason } from './address-policy';

/**
 * Fetches catalog images from URLs that come from outside, safely:
 * http(s) only, no credentials in URLs; the host name is resolved once, every address checked (address-policy.ts),
 * and the connection made to the address that was checked (a pinned lookup: no second DNS answer can swap it);
 * redirects followed by hand, each one checked again, at most `maxRedirects`; bytes and total time capped; the body
 * must sniff as an accepted image format whatever its Content-Type says.
 *
 * Resolver and transport are injectable: tests route private, link-local, metadata and public addresses through a
 * recording transport that never opens a socket.
 */

export type FetchErrorCode =
  | 'fetch_bad_url' | 'fetch_blocked_address' | 'fetch_dns_failed' | 'fetch_not_found' | 'fetch_http_error'
  | 'fetch_too_many_redirects' | 'fetch_too_large' | 'fetch_timeout' | 'fetch_network_error' | 'unsupported_image';

export class FetchError extends AppError {
  /** Worth retrying later (timeouts, 5xx, 429, network errors); false for bad input (blocked, 404, too large). */
  readonly transient: boolean;
  constructor(code: FetchErrorCode, message: string, transient: boolean, cause?: unknown) {
    super(code, message, transient ? 502 : 422, { cause });
    this.transient = transient;
  }
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

export interface TransportRequest {
  url: URL;
  address: ResolvedAddress;
  signal: AbortSignal;
  headers: Record<string, string>;
}
export interface TransportResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: AsyncIterable<Buffer>;
  /** Stops reading and frees the connection. */
  destroy(): void;
}
export type Transport = (request: TransportRequest) => Promise<TransportResponse>;

export interface FetcherOptions {
  allowedHosts: string[];
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  userAgent?: string;
  resolver?: Resolver;
  transport?: Transport;
}

export interface FetchedImage {
  bytes: Buffer;
  finalUrl: string;
  contentType?: string;
}

export const systemResolver: Resolver = async (host) => {
  const answers = await dns.promises.lookup(host, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** The real transport: node's http/https, connecting to the checked address; TLS still verifies the host name. */
export const nodeTransport: Transport = ({ url, address, signal, headers }) =>
  new Promise((resolve, reject) => {
    const lookup: LookupFunction = (_host, options, callback) => {
      if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: ResolvedAddress[]) => void)(null, [address]);
      else callback(null, address.address, address.family);
    };
    const client = url.protocol === 'https:' ? https : http;
    const request = client.get(url, { lookup, signal, headers, agent: false }, (response) => {
      resolve({ status: response.statusCode ?? 0, headers: response.headers, body: response, destroy: () => response.destroy() });
    });
    request.on('error', reject);
  });

export class ImageFetcher {
  private readonly allow;
  private readonly resolver: Resolver;
  private readonly transport: Transport;

  constructor(private readonly options: FetcherOptions) {
    this.allow = parseAllowList(options.allowedHosts);
    this.resolver = options.resolver ?? systemResolver;
    this.transport = options.transport ?? nodeTransport;
  }

  /** Throws FetchError(fetch_bad_url | fetch_blocked_address | fetch_dns_failed) unless `raw` may be fetched. */
  async check(raw: string): Promise<{ url: URL; address: ResolvedAddress }> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new FetchError('fetch_bad_url', 'the image URL is not a valid URL', false);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new FetchError('fetch_bad_url', `the image URL must be http or https, not ${url.protocol.replace(':', '')}`, false);
    if (url.username || url.password) throw new FetchError('fetch_bad_url', 'the image URL must not carry credentials', false);
    // The WHATWG parser has already turned decimal, octal, hex and short IPv4 forms into dotted quads.
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let addresses: ResolvedAddress[];
    if (/^[\d.]+$/.test(host) || host.includes(':')) addresses = [{ address: host, family: host.includes(':') ? 6 : 4 }];
    else {
      try {
        addresses = await this.resolver(host);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new FetchError('fetch_dns_failed', `cannot resolve ${host}${code ? ` (${code})` : ''}`, code !== 'ENOTFOUND' && code !== 'ENODATA', error);
      }
      if (addresses.length === 0) throw new FetchError('fetch_dns_failed', `${host} has no addresses`, false);
    }
    // Every answer must be acceptable: a name that resolves to one public and one private address is refused.
    for (const { address } of addresses) {
      if (isAllowedByList(this.allow, host, address)) continue;
      const reason = refusalReason(address);
      if (reason) throw new FetchError('fetch_blocked_address', `the image host ${host} resolves to ${reason}; only public addresses (or FETCH_ALLOWED_HOSTS) may be fetched`, false);
    }
    return { url, address: addresses[0]! };
  }

  async fetch(raw: string): Promise<FetchedImage> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.options.timeoutMs);
    try {
      let current = raw;
      for (let hop = 0; ; hop++) {
        const { url, address } = await this.check(current);
        let response: TransportResponse;
        try {
          response = await this.transport({ url, address, signal: controller.signal, headers: { 'user-agent': this.options.userAgent ?? 'Lookalike-Indexer/1', accept: 'image/*' } });
        } catch (error) {
          if (controller.signal.aborted) throw new FetchError('fetch_timeout', `fetching the image took more than ${this.options.timeoutMs} ms`, true, error);
          throw new FetchError('fetch_network_error', `cannot fetch the image from ${url.host}: ${(error as Error).message}`, true, error);
        }
        if (response.status >= 300 && response.status < 400 && response.headers.location) {
          response.destroy();
          if (hop >= this.options.maxRedirects) throw new FetchError('fetch_too_many_redirects', `more than ${this.options.maxRedirects} redirects`, false);
          current = new URL(String(response.headers.location), url).toString();
          continue;
        }
        if (response.status !== 200) {
          response.destroy();
          if (response.status === 404 || response.status === 410) throw new FetchError('fetch_not_found', `the image URL answered ${response.status}`, false);
          const transient = response.status === 429 || response.status >= 500;
          throw new FetchError('fetch_http_error', `the image URL answered ${response.status}`, transient);
        }
        const bytes = await this.readCapped(response, controller.signal);
        if (!sniffFormat(bytes)) throw new FetchError('unsupported_image', 'the URL did not return a JPEG, PNG, WebP, AVIF or GIF image', false);
        const type = response.headers['content-type'];
        return { bytes, finalUrl: url.toString(), ...(typeof type === 'string' ? { contentType: type } : {}) };
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private async readCapped(response: TransportResponse, signal: AbortSignal): Promise<Buffer> {
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.options.maxBytes) {
      response.destroy();
      throw new FetchError('fetch_too_large', `the image is ${declared} bytes; the limit is ${this.options.maxBytes}`, false);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of response.body) {
        total += chunk.length;
        if (total > this.options.maxBytes) {
          response.destroy();
          throw new FetchError('fetch_too_large', `the image is larger than ${this.options.maxBytes} bytes`, false);
        }
        chunks.push(chunk);
      }
    } catch (error) {
      if (error instanceof FetchError) throw error;
      if (signal.aborted) throw new FetchError('fetch_timeout', `fetching the image took more than ${this.options.timeoutMs} ms`, true, error);
      throw new FetchError('fetch_network_error', `the image download broke off: ${(error as Error).message}`, true, error);
    }
    return Buffer.concat(chunks, total);
  }
}

/** The fetcher the processes use: FETCH_* settings, and IMAGE_MAX_BYTES as the byte cap. */
export function createImageFetcher(config: Pick<Config, 'fetch' | 'image'>): ImageFetcher {
  return new ImageFetcher({ allowedHosts: config.fetch.allowedHosts, maxBytes: config.image.maxBytes, timeoutMs: config.fetch.timeoutMs, maxRedirects: config.fetch.maxRedirects });
}
