import { inspect } from 'node:util';
import { z } from 'zod';

/**
 * Request headers per image host (FETCH_HEADERS), e.g. a token for a private CDN. They come from configuration only
 * and are secrets: the values sit in a private field, and the object serialises (JSON, pino, util.inspect) as host
 * and header names with every value `[redacted]`, so logging a config or a fetcher never shows them.
 */
export class HostHeaders {
  readonly #byHost: ReadonlyMap<string, Readonly<Record<string, string>>>;

  constructor(entries: Record<string, Record<string, string>> = {}) {
    this.#byHost = new Map(
      Object.entries(entries).map(([host, headers]) => [
        normaliseHost(host),
        Object.freeze(Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]))),
      ]),
    );
  }

  /** The headers configured for exactly this host name (case-insensitive, port ignored); none for any other host. */
  for(hostname: string): Readonly<Record<string, string>> {
    return this.#byHost.get(normaliseHost(hostname)) ?? {};
  }

  get hosts(): string[] {
    return [...this.#byHost.keys()];
  }

  toJSON(): Record<string, Record<string, string>> {
    return Object.fromEntries([...this.#byHost].map(([host, headers]) => [host, Object.fromEntries(Object.keys(headers).map((name) => [name, '[redacted]']))]));
  }

  [inspect.custom](): string {
    return `HostHeaders ${JSON.stringify(this.toJSON())}`;
  }
}

function normaliseHost(host: string): string {
  return host.trim().toLowerCase().replace(/^\[|\]$/g, '');
}

const FRAMING_HEADERS = ['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'te', 'trailer', 'keep-alive'];
const HOST = /^([a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+$|^\[?[0-9a-fA-F:.]+\]?$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * FETCH_HEADERS, parsed: `{"<host>": {"<header name>": "<value>"}}`. Messages name the host and header, never a value
 * (the values are secrets). Headers that frame the request itself, and values that could split it, are refused.
 */
export const hostHeadersSchema = z
  .record(z.string(), z.record(z.string(), z.string().regex(/^[\t\x20-\x7e\x80-\xff]*$/, 'the value holds a line break or a control character')))
  .superRefine((hosts, ctx) => {
    // Checked here rather than as record keys, whose failures zod reports without the reason.
    for (const [host, headers] of Object.entries(hosts)) {
      if (!HOST.test(host)) ctx.addIssue({ code: 'custom', path: [host], message: 'a host name or IP address, without scheme or port' });
      for (const name of Object.keys(headers)) {
        if (!HEADER_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [host, name], message: 'not a header name' });
        else if (FRAMING_HEADERS.includes(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: [host, name], message: 'this header may not be configured' });
      }
    }
  });
