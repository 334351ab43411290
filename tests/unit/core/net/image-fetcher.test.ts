import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { ImageFetcher, createImageFetcher, type ResolvedAddress, type Transport, type TransportRequest } from '../../../../core/net/image-fetcher';
import { refusalReason } from '../../../../core/net/address-policy';
import { HostHeaders } from '../../../../core/net/host-headers';
import { loadConfig } from '../../../../core/config';
import { inspect } from 'node:util';
import pino from 'pino';

let png: Buffer;
beforeAll(async () => {
  png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#ff0000' } }).png().toBuffer();
});

/** A transport that records every attempt and answers from a table; it never opens a socket. */
function recordingTransport(answers: Record<string, { status: number; headers?: Record<string, string>; body?: Buffer }>): { transport: Transport; attempts: TransportRequest[] } {
  const attempts: TransportRequest[] = [];
  const transport: Transport = async (request) => {
    attempts.push(request);
    const answer = answers[request.url.toString()] ?? { status: 404 };
    const body = answer.body ?? Buffer.alloc(0);
    return {
      status: answer.status,
      headers: { 'content-length': String(body.length), ...answer.headers },
      body: (async function* () { yield body; })(),
      destroy: () => undefined,
    };
  };
  return { transport, attempts };
}

const dnsTable: Record<string, string[]> = {
  'images.example.com': ['93.184.216.34'],
  'cdn.example.com': ['2606:2800:220:1:248:1893:25c8:1946'],
  'internal.example.com': ['10.0.0.5'],
  'mixed.example.com': ['93.184.216.34', '192.168.1.20'],
  'metadata.example.com': ['169.254.169.254'],
  'loopback.example.com': ['127.0.0.1'],
  'mapped.example.com': ['::ffff:10.1.2.3'],
};
const resolver = async (host: string): Promise<ResolvedAddress[]> => {
  const answers = dnsTable[host];
  if (!answers) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

function fetcher(transport: Transport, allowedHosts: string[] = []): ImageFetcher {
  return new ImageFetcher({ allowedHosts, maxBytes: 10_000, timeoutMs: 2_000, maxRedirects: 3, resolver, transport });
}

describe('SSRF: refused before any connection', () => {
  const blocked = [
    'http://127.0.0.1/a.png', 'http://2130706433/a.png', 'http://0177.0.0.1/a.png', 'http://0x7f.0.0.1/a.png', 'http://0x7f000001/a.png',
    'http://127.1/a.png', 'http://017700000001/a.png', 'http://[::1]/a.png', 'http://[::ffff:127.0.0.1]/a.png', 'http://[::ffff:7f00:1]/a.png',
    'http://0.0.0.0/a.png', 'http://0/a.png', 'http://[::]/a.png', 'http://169.254.169.254/latest/meta-data/', 'http://[fd00:ec2::254]/',
    'http://100.100.100.200/', 'http://10.0.0.1/a.png', 'http://172.16.5.4/a.png', 'http://192.168.1.1/a.png', 'http://100.64.0.1/a.png',
    'http://[fe80::1]/a.png', 'http://[fc00::1]/a.png', 'http://224.0.0.1/a.png', 'http://255.255.255.255/a.png', 'http://[ff02::1]/a.png',
    'http://[64:ff9b::a9fe:a9fe]/a.png', 'http://[2002:a9fe:a9fe::]/a.png', 'http://[::ffff:a9fe:a9fe]/a.png', 'http://192.0.2.10/a.png',
    'http://internal.example.com/a.png', 'http://mixed.example.com/a.png', 'http://metadata.example.com/a.png',
    'http://loopback.example.com/a.png', 'http://mapped.example.com/a.png',
  ];
  it.each(blocked)('%s', async (url) => {
    const { transport, attempts } = recordingTransport({});
    await expect(fetcher(transport).fetch(url)).rejects.toMatchObject({ code: 'fetch_blocked_address', transient: false });
    expect(attempts).toHaveLength(0);
  });

  it.each(['file:///etc/passwd', 'ftp://images.example.com/a.png', 'gopher://x/', 'http://user:pw@images.example.com/a.png', 'not a url'])('%s is a bad URL', async (url) => {
    const { transport, attempts } = recordingTransport({});
    await expect(fetcher(transport).fetch(url)).rejects.toMatchObject({ code: 'fetch_bad_url' });
    expect(attempts).toHaveLength(0);
  });

  it('re-checks every redirect: a public host redirecting to a private or metadata address is refused', async () => {
    for (const target of ['http://169.254.169.254/latest/meta-data/', 'http://internal.example.com/x.png', 'http://[::ffff:127.0.0.1]/x.png']) {
      const { transport, attempts } = recordingTransport({ 'http://images.example.com/a.png': { status: 302, headers: { location: target } } });
      await expect(fetcher(transport).fetch('http://images.example.com/a.png')).rejects.toMatchObject({ code: 'fetch_blocked_address' });
      expect(attempts.map((a) => a.address.address)).toEqual(['93.184.216.34']);
    }
  });

  it('caps redirects', async () => {
    const loop = { status: 301, headers: { location: 'http://images.example.com/a.png' } };
    const { transport, attempts } = recordingTransport({ 'http://images.example.com/a.png': loop });
    await expect(fetcher(transport).fetch('http://images.example.com/a.png')).rejects.toMatchObject({ code: 'fetch_too_many_redirects' });
    expect(attempts).toHaveLength(4);
  });
});

describe('fetching a public image (through the recording transport)', () => {
  it('connects to the address that was checked, for IPv4 and IPv6', async () => {
    const { transport, attempts } = recordingTransport({
      'http://images.example.com/a.png': { status: 200, body: png },
      'https://cdn.example.com/b.png': { status: 200, body: png },
    });
    const f = fetcher(transport);
    expect((await f.fetch('http://images.example.com/a.png')).bytes.equals(png)).toBe(true);
    expect((await f.fetch('https://cdn.example.com/b.png')).bytes.equals(png)).toBe(true);
    expect(attempts.map((a) => a.address)).toEqual([{ address: '93.184.216.34', family: 4 }, { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 }]);
  });

  it('sorts failures into permanent and transient', async () => {
    const { transport } = recordingTransport({
      'http://images.example.com/404.png': { status: 404 },
      'http://images.example.com/503.png': { status: 503 },
      'http://images.example.com/429.png': { status: 429 },
      'http://images.example.com/403.png': { status: 403 },
      'http://images.example.com/big.png': { status: 200, body: Buffer.alloc(20_000) },
      'http://images.example.com/page.html': { status: 200, body: Buffer.from('<html>hello</html>'), headers: { 'content-type': 'image/png' } },
    });
    const f = fetcher(transport);
    await expect(f.fetch('http://images.example.com/404.png')).rejects.toMatchObject({ code: 'fetch_not_found', transient: false });
    await expect(f.fetch('http://images.example.com/503.png')).rejects.toMatchObject({ code: 'fetch_http_error', transient: true });
    await expect(f.fetch('http://images.example.com/429.png')).rejects.toMatchObject({ code: 'fetch_http_error', transient: true });
    await expect(f.fetch('http://images.example.com/403.png')).rejects.toMatchObject({ code: 'fetch_http_error', transient: false });
    await expect(f.fetch('http://images.example.com/big.png')).rejects.toMatchObject({ code: 'fetch_too_large', transient: false });
    await expect(f.fetch('http://images.example.com/page.html')).rejects.toMatchObject({ code: 'unsupported_image' });
    await expect(f.fetch('http://nowhere.example.com/a.png')).rejects.toMatchObject({ code: 'fetch_dns_failed', transient: false });
  });
});

describe('loopback, for real (the only addresses tried with real connections)', () => {
  let server: http.Server;
  let port: number;
  const authorizations: Array<string | undefined> = [];
  beforeAll(async () => {
    server = http.createServer((request, response) => {
      authorizations.push(request.headers.authorization);
      if (request.url === '/a.png') response.writeHead(200, { 'content-type': 'image/png' }).end(png);
      else if (request.url === '/redirect') response.writeHead(302, { location: '/a.png' }).end();
      else if (request.url === '/slow') setTimeout(() => response.writeHead(200).end(png), 3_000);
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const real = (allowed: string[], timeoutMs = 2_000) => new ImageFetcher({ allowedHosts: allowed, maxBytes: 10_000, timeoutMs, maxRedirects: 3 });

  it('is refused unless FETCH_ALLOWED_HOSTS lists it', async () => {
    await expect(real([]).fetch(`http://127.0.0.1:${port}/a.png`)).rejects.toMatchObject({ code: 'fetch_blocked_address' });
    await expect(real([]).fetch(`http://localhost:${port}/a.png`)).rejects.toMatchObject({ code: 'fetch_blocked_address' });
  });

  it('is fetched when allowed by CIDR or host name, following a redirect', async () => {
    expect((await real(['127.0.0.0/8']).fetch(`http://127.0.0.1:${port}/redirect`)).bytes.equals(png)).toBe(true);
    expect((await real(['127.0.0.1']).fetch(`http://127.0.0.1:${port}/a.png`)).bytes.equals(png)).toBe(true);
    await expect(real(['127.0.0.1']).fetch(`http://127.0.0.1:${port}/missing.png`)).rejects.toMatchObject({ code: 'fetch_not_found' });
  });

  it('sends FETCH_HEADERS for catalog images, never for a searcher\'s image_url', async () => {
    const config = loadConfig({ FETCH_ALLOWED_HOSTS: '127.0.0.1', FETCH_HEADERS: '{"127.0.0.1":{"Authorization":"Bearer loopback-token"}}' });
    authorizations.length = 0;
    await createImageFetcher(config, 'catalog').fetch(`http://127.0.0.1:${port}/redirect`);
    await createImageFetcher(config, 'query').fetch(`http://127.0.0.1:${port}/a.png`);
    expect(authorizations).toEqual(['Bearer loopback-token', 'Bearer loopback-token', undefined]);
  });

  it('gives up after the total time limit', async () => {
    await expect(real(['127.0.0.1'], 300).fetch(`http://127.0.0.1:${port}/slow`)).rejects.toMatchObject({ code: 'fetch_timeout', transient: true });
  });
});

describe('address policy', () => {
  it('accepts global unicast only', () => {
    expect(refusalReason('93.184.216.34')).toBeNull();
    expect(refusalReason('2606:2800:220:1:248:1893:25c8:1946')).toBeNull();
    expect(refusalReason('::ffff:93.184.216.34')).toBeNull();
    expect(refusalReason('169.254.169.254')).toBe('a cloud metadata address');
    expect(refusalReason('::ffff:10.0.0.1')).toMatch(/IPv6 form of 10\.0\.0\.1/);
  });
});

describe('FETCH_HEADERS: headers for private image hosts', () => {
  const token = 'Bearer s3cr3t-cdn-token';
  const headers = new HostHeaders({ 'CDN.example.com': { Authorization: token, 'X-Cdn-Key': 'k-123' } });
  const withHeaders = (transport: Transport) => new ImageFetcher({ allowedHosts: [], maxBytes: 10_000, timeoutMs: 2_000, maxRedirects: 3, resolver, transport, hostHeaders: headers });

  it('are sent to the host they are configured for (host names compare case-insensitively)', async () => {
    const { transport, attempts } = recordingTransport({ 'https://cdn.example.com/a.png': { status: 200, body: png } });
    await withHeaders(transport).fetch('https://CDN.Example.com/a.png');
    expect(attempts[0]!.headers).toMatchObject({ authorization: token, 'x-cdn-key': 'k-123', accept: 'image/*' });
  });

  it('are not sent to any other host', async () => {
    const { transport, attempts } = recordingTransport({ 'http://images.example.com/a.png': { status: 200, body: png } });
    await withHeaders(transport).fetch('http://images.example.com/a.png');
    expect(attempts[0]!.headers).not.toHaveProperty('authorization');
    expect(JSON.stringify(attempts[0]!.headers)).not.toContain('s3cr3t');
  });

  it('are not sent after a redirect to another host, and are sent again on a redirect back to the same host', async () => {
    const { transport, attempts } = recordingTransport({
      'https://cdn.example.com/a.png': { status: 302, headers: { location: 'https://images.example.com/b.png' } },
      'https://images.example.com/b.png': { status: 200, body: png },
      'https://cdn.example.com/c.png': { status: 301, headers: { location: '/d.png' } },
      'https://cdn.example.com/d.png': { status: 200, body: png },
    });
    const f = withHeaders(transport);
    await f.fetch('https://cdn.example.com/a.png');
    await f.fetch('https://cdn.example.com/c.png');
    expect(attempts.map((a) => [a.url.toString(), a.headers.authorization])).toEqual([
      ['https://cdn.example.com/a.png', token],
      ['https://images.example.com/b.png', undefined],
      ['https://cdn.example.com/c.png', token],
      ['https://cdn.example.com/d.png', token],
    ]);
  });

  it('are not sent once a redirect went from https down to http, even back on the configured host', async () => {
    const { transport, attempts } = recordingTransport({
      'https://cdn.example.com/a.png': { status: 302, headers: { location: 'http://cdn.example.com/a.png' } },
      'http://cdn.example.com/a.png': { status: 200, body: png },
    });
    await withHeaders(transport).fetch('https://cdn.example.com/a.png');
    expect(attempts.map((a) => a.headers.authorization)).toEqual([token, undefined]);
  });

  it('never appear in errors, JSON, util.inspect or log lines', async () => {
    const failing: Transport = async () => {
      throw new Error('socket hang up');
    };
    const error = await withHeaders(failing).fetch('https://cdn.example.com/a.png').catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'fetch_network_error' });
    const config = loadConfig({ FETCH_HEADERS: JSON.stringify({ 'cdn.example.com': { Authorization: token } }) });
    const lines: string[] = [];
    const logger = pino({ redact: { paths: [] } }, { write: (line: string) => lines.push(line) });
    logger.info({ config, fetcher: withHeaders(failing), err: error }, 'fetch failed');
    for (const text of [String(error), JSON.stringify(error), inspect(error, { depth: 10 }), JSON.stringify(config), inspect(config, { depth: 10 }), ...lines]) {
      expect(text).not.toContain('s3cr3t');
    }
    expect(JSON.stringify(config.fetch.hostHeaders)).toBe('{"cdn.example.com":{"authorization":"[redacted]"}}');
  });
});
