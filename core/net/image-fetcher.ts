import type { Config } from '../config';
import { sniffFormat } from '../image/formats';
import { HostHeaders } from './host-headers';
import { FetchError, OutboundGuard, nodeTransport, type Resolver, type Transport, type TransportResponse } from './outbound';

export { FetchError, nodeTransport, systemResolver } from './outbound';
export type { FetchErrorCode, ResolvedAddress, Resolver, Transport, TransportRequest, TransportResponse } from './outbound';

/**
 * Fetches catalog images from URLs that come from outside, safely: the SSRF rules of outbound.ts for the URL and for
 * every redirect, which are followed by hand, each one checked again, at most `maxRedirects`; bytes and total time
 * capped; the body must sniff as an accepted image format whatever its Content-Type says.
 *
 * Private image hosts: FETCH_HEADERS adds configured headers (a CDN token) to requests for exactly the host they are
 * configured for. Each hop of a redirect gets its own host's headers, so a redirect to another host never carries
 * them, nor does a redirect from https down to plain http.
 */

export interface FetcherOptions {
  allowedHosts: string[];
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  userAgent?: string;
  /** Headers per host (FETCH_HEADERS); none by default. */
  hostHeaders?: HostHeaders;
  resolver?: Resolver;
  transport?: Transport;
}

export interface FetchedImage {
  bytes: Buffer;
  finalUrl: string;
  contentType?: string;
}

export class ImageFetcher {
  private readonly guard: OutboundGuard;
  private readonly transport: Transport;
  private readonly hostHeaders: HostHeaders;

  constructor(private readonly options: FetcherOptions) {
    this.guard = new OutboundGuard({ allowedHosts: options.allowedHosts, subject: 'image', ...(options.resolver ? { resolver: options.resolver } : {}) });
    this.transport = options.transport ?? nodeTransport;
    this.hostHeaders = options.hostHeaders ?? new HostHeaders();
  }

  async fetch(raw: string): Promise<FetchedImage> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.options.timeoutMs);
    try {
      let current = raw;
      let downgraded = false;
      for (let hop = 0; ; hop++) {
        const { url, address } = await this.guard.check(current);
        const configured = downgraded ? {} : this.hostHeaders.for(url.hostname);
        let response: TransportResponse;
        try {
          response = await this.transport({ url, address, signal: controller.signal, headers: { 'user-agent': this.options.userAgent ?? 'Lookalike-Indexer/1', accept: 'image/*', ...configured } });
        } catch (error) {
          if (controller.signal.aborted) throw new FetchError('fetch_timeout', `fetching the image took more than ${this.options.timeoutMs} ms`, true, error);
          throw new FetchError('fetch_network_error', `cannot fetch the image from ${url.host}: ${(error as Error).message}`, true, error);
        }
        if (response.status >= 300 && response.status < 400 && response.headers.location) {
          response.destroy();
          if (hop >= this.options.maxRedirects) throw new FetchError('fetch_too_many_redirects', `more than ${this.options.maxRedirects} redirects`, false);
          const next = new URL(String(response.headers.location), url);
          // Once a chain has left https, a later hop back to the configured host over plain text gets no headers.
          downgraded ||= url.protocol === 'https:' && next.protocol === 'http:';
          current = next.toString();
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

/**
 * The fetcher the processes use: FETCH_* settings, and IMAGE_MAX_BYTES as the byte cap. `catalog` (the indexer, the
 * re-embed command) sends FETCH_HEADERS to their hosts; `query` (the API fetching a searcher's image_url) sends none:
 * a URL from a searcher must not borrow the catalog's credentials.
 */
export function createImageFetcher(config: Pick<Config, 'fetch' | 'image'>, purpose: 'catalog' | 'query'): ImageFetcher {
  const { allowedHosts, timeoutMs, maxRedirects, hostHeaders } = config.fetch;
  return new ImageFetcher({ allowedHosts, maxBytes: config.image.maxBytes, timeoutMs, maxRedirects, ...(purpose === 'catalog' ? { hostHeaders } : {}) });
}
