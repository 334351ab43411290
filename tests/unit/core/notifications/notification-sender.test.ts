import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResolvedAddress, Transport, TransportRequest } from '../../../../core/net/outbound';
import { notificationBodySchema, notificationEvent } from '../../../../core/notifications/notification';
import { NotificationSender } from '../../../../core/notifications/notification-sender';
import { verifySignature } from '../../../../core/webhook-signature';

/** Answers every attempt with `status` and records it; never opens a socket. */
function recordingTransport(status = 204): { transport: Transport; attempts: TransportRequest[] } {
  const attempts: TransportRequest[] = [];
  const transport: Transport = async (request) => {
    attempts.push(request);
    return { status, headers: status >= 300 && status < 400 ? { location: 'http://hooks.example.com/elsewhere' } : {}, body: (async function* () {})(), destroy: () => undefined };
  };
  return { transport, attempts };
}

const dnsTable: Record<string, string[]> = {
  'hooks.example.com': ['93.184.216.34'],
  'internal.example.com': ['10.0.0.5'],
  'metadata.example.com': ['169.254.169.254'],
  'mixed.example.com': ['93.184.216.34', '192.168.1.20'],
  'loopback.example.com': ['127.0.0.1'],
};
const resolver = async (host: string): Promise<ResolvedAddress[]> => {
  const answers = dnsTable[host];
  if (!answers) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

const sender = (url: string, transport: Transport, options: { secrets?: string[]; allowedHosts?: string[] } = {}) =>
  new NotificationSender({ url, secrets: options.secrets ?? ['notify-secret'], timeoutMs: 2_000, allowedHosts: options.allowedHosts ?? [], resolver, transport });

const indexed = notificationEvent('product.indexed', 'sku-1', 'default', 7);

describe('NotificationSender', () => {
  it('posts the body signed as incoming webhooks are: verifySignature accepts it with the secret', async () => {
    const { transport, attempts } = recordingTransport();
    await sender('https://hooks.example.com/lookalike', transport).send([indexed]);
    expect(attempts).toHaveLength(1);
    const { method, body, headers, address } = attempts[0]!;
    expect(method).toBe('POST');
    expect(address).toEqual({ address: '93.184.216.34', family: 4 });
    expect(headers['content-type']).toBe('application/json');
    expect(JSON.parse(body!.toString())).toEqual(indexed);
    expect(() => verifySignature(headers['lookalike-signature'], body!, { secrets: ['notify-secret'], toleranceSeconds: 300 })).not.toThrow();
    expect(() => verifySignature(headers['lookalike-signature'], body!, { secrets: ['another-secret'], toleranceSeconds: 300 })).toThrow(/no signature matches/);
    expect(() => verifySignature(headers['lookalike-signature'], Buffer.from(body!.toString().replace('sku-1', 'sku-2')), { secrets: ['notify-secret'], toleranceSeconds: 300 })).toThrow(/no signature matches/);
  });

  it('signs with every NOTIFY_SECRET (rotation), and batches several events as { events }', async () => {
    const { transport, attempts } = recordingTransport();
    const deleted = notificationEvent('product.deleted', 'sku-2', 'default', 3);
    await sender('https://hooks.example.com/', transport, { secrets: ['old-secret', 'new-secret'] }).send([indexed, deleted]);
    const { body, headers } = attempts[0]!;
    expect(JSON.parse(body!.toString())).toEqual({ events: [indexed, deleted] });
    expect(notificationBodySchema.safeParse(JSON.parse(body!.toString())).success).toBe(true);
    expect(headers['lookalike-signature']!.split(',').filter((part) => part.startsWith('v1='))).toHaveLength(2);
    for (const secret of ['old-secret', 'new-secret']) {
      expect(() => verifySignature(headers['lookalike-signature'], body!, { secrets: [secret], toleranceSeconds: 300 })).not.toThrow();
    }
  });

  it('treats any answer but 2xx as a transient failure, and does not follow redirects', async () => {
    for (const status of [500, 503, 429, 400, 401, 302]) {
      const { transport, attempts } = recordingTransport(status);
      await expect(sender('https://hooks.example.com/', transport).send([indexed])).rejects.toMatchObject({ code: 'fetch_http_error', transient: true, message: `the notification receiver answered ${status}` });
      expect(attempts).toHaveLength(1);
    }
  });

  it('reports a receiver that cannot be reached as a transient network error', async () => {
    const refused: Transport = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 93.184.216.34:443'), { code: 'ECONNREFUSED' });
    };
    await expect(sender('https://hooks.example.com/', refused).send([indexed])).rejects.toMatchObject({ code: 'fetch_network_error', transient: true });
  });
});

describe('NotificationSender: the image fetches’ SSRF rules', () => {
  const refusedUrls = [
    'http://10.0.0.1/hook', 'http://127.0.0.1:8080/hook', 'http://[::1]/hook', 'http://169.254.169.254/latest/meta-data/',
    'http://[::ffff:10.0.0.1]/hook', 'http://0x7f000001/hook', 'http://192.168.1.1/hook',
    'http://internal.example.com/hook', 'http://metadata.example.com/hook', 'http://mixed.example.com/hook', 'http://loopback.example.com/hook',
  ];

  it.each(refusedUrls)('refuses %s at send, without a connection, as not worth retrying', async (url) => {
    const { transport, attempts } = recordingTransport();
    await expect(sender(url, transport).send([indexed])).rejects.toMatchObject({ code: 'fetch_blocked_address', transient: false });
    expect(attempts).toHaveLength(0);
  });

  it.each(refusedUrls)('refuses %s at start (StartupError notify_url_blocked)', async (url) => {
    const { transport, attempts } = recordingTransport();
    await expect(sender(url, transport).checkAtStart()).rejects.toMatchObject({ code: 'notify_url_blocked', message: expect.stringMatching(/^NOTIFY_URL: the notification host .* resolves to .*FETCH_ALLOWED_HOSTS/) });
    expect(attempts).toHaveLength(0);
  });

  it('reaches a private receiver that FETCH_ALLOWED_HOSTS lists, by CIDR or host name', async () => {
    const { transport, attempts } = recordingTransport();
    await sender('http://10.0.0.1/hook', transport, { allowedHosts: ['10.0.0.0/8'] }).send([indexed]);
    await sender('http://internal.example.com/hook', transport, { allowedHosts: ['internal.example.com'] }).send([indexed]);
    expect(attempts.map((a) => a.address.address)).toEqual(['10.0.0.1', '10.0.0.5']);
    await expect(sender('http://internal.example.com/hook', transport, { allowedHosts: ['internal.example.com'] }).checkAtStart()).resolves.toBeNull();
  });

  it('at start, only reports a host name that does not resolve yet (every send checks again)', async () => {
    const { transport } = recordingTransport();
    await expect(sender('https://not-yet.example.com/hook', transport).checkAtStart()).resolves.toMatchObject({ code: 'fetch_dns_failed' });
  });
});

describe('NotificationSender over a real loopback connection', () => {
  it('delivers a body the receiver verifies byte for byte', async () => {
    const received: Array<{ method: string; body: Buffer; signature: string }> = [];
    const server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ method: request.method ?? '', body: Buffer.concat(chunks), signature: String(request.headers['lookalike-signature']) });
        response.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      await new NotificationSender({ url, secrets: ['notify-secret'], timeoutMs: 2_000, allowedHosts: ['127.0.0.1'] }).send([indexed]);
      expect(received).toHaveLength(1);
      expect(received[0]!.method).toBe('POST');
      expect(() => verifySignature(received[0]!.signature, received[0]!.body, { secrets: ['notify-secret'], toleranceSeconds: 300 })).not.toThrow();
      await expect(new NotificationSender({ url, secrets: ['notify-secret'], timeoutMs: 2_000, allowedHosts: [] }).send([indexed])).rejects.toMatchObject({ code: 'fetch_blocked_address' });
      expect(received).toHaveLength(1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
