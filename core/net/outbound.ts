import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { AppError } from '../errors';
import { isAllowedByList, parseAllowList, refusalReason, type AllowList } from './address-policy';

/**
 * Outbound HTTP to URLs the service does not control (catalog images, the notification receiver), under one set of
 * SSRF rules: http(s) only, no credentials in URLs; the host name is resolved once, every address checked
 * (address-policy.ts, FETCH_ALLOWED_HOSTS), and the connection made to the address that was checked (a pinned
 * lookup: no second DNS answer can swap it).
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
  /** GET when absent. */
  method?: 'GET' | 'POST';
  body?: Buffer;
}
export interface TransportResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: AsyncIterable<Buffer>;
  /** Stops reading and frees the connection. */
  destroy(): void;
}
export type Transport = (request: TransportRequest) => Promise<TransportResponse>;

export const systemResolver: Resolver = async (host) => {
  const answers = await dns.promises.lookup(host, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** The real transport: node's http/https, connecting to the checked address; TLS still verifies the host name. */
export const nodeTransport: Transport = ({ url, address, signal, headers, method = 'GET', body }) =>
  new Promise((resolve, reject) => {
    const lookup: LookupFunction = (_host, options, callback) => {
      if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: ResolvedAddress[]) => void)(null, [address]);
      else callback(null, address.address, address.family);
    };
    const client = url.protocol === 'https:' ? https : http;
    const request = client.request(url, { method, lookup, signal, headers, agent: false }, (response) => {
      resolve({ status: response.statusCode ?? 0, headers: response.headers, body: response, destroy: () => response.destroy() });
    });
    request.on('error', reject);
    request.end(body);
  });

export interface OutboundGuardOptions {
  allowedHosts: string[];
  resolver?: Resolver;
  /** What the URL points at, for error messages: "image", "notification". */
  subject: string;
}

/** Decides whether a URL may be reached, and at which address. */
export class OutboundGuard {
  private readonly allow: AllowList;
  private readonly resolver: Resolver;
  private readonly subject: string;

  constructor(options: OutboundGuardOptions) {
    this.allow = parseAllowList(options.allowedHosts);
    this.resolver = options.resolver ?? systemResolver;
    this.subject = options.subject;
  }

  /** Throws FetchError(fetch_bad_url | fetch_blocked_address | fetch_dns_failed) unless `raw` may be reached. */
  async check(raw: string): Promise<{ url: URL; address: ResolvedAddress }> {
    const what = this.subject;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new FetchError('fetch_bad_url', `the ${what} URL is not a valid URL`, false);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new FetchError('fetch_bad_url', `the ${what} URL must be http or https, not ${url.protocol.replace(':', '')}`, false);
    if (url.username || url.password) throw new FetchError('fetch_bad_url', `the ${what} URL must not carry credentials`, false);
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
      if (reason) throw new FetchError('fetch_blocked_address', `the ${what} host ${host} resolves to ${reason}; only public addresses (or FETCH_ALLOWED_HOSTS) may be reached`, false);
    }
    return { url, address: addresses[0]! };
  }
}
