import type { Config } from '../config';
import { StartupError } from '../errors';
import { FetchError, OutboundGuard, nodeTransport, type Resolver, type Transport, type TransportResponse } from '../net/outbound';
import { SIGNATURE_HEADER, signatureHeader } from '../webhook-signature';
import { notificationBody, type NotificationEvent } from './notification';

/**
 * Posts notifications to NOTIFY_URL: the body signed exactly as incoming webhooks are (`Lookalike-Signature:
 * t=<unix>,v1=<hex>`, one v1 per NOTIFY_SECRET; webhook-signature.ts), re-signed at every attempt so a retry carries
 * a fresh timestamp. The receiver is reached under the image fetches' SSRF rules (outbound.ts: FETCH_ALLOWED_HOSTS,
 * private addresses refused, the checked address pinned); redirects are not followed. Any answer but 2xx is an
 * error, retried by the caller; a URL the rules refuse is not worth retrying (`transient: false`).
 */
export interface NotificationSenderOptions {
  url: string;
  secrets: string[];
  timeoutMs: number;
  allowedHosts: string[];
  resolver?: Resolver;
  transport?: Transport;
}

export class NotificationSender {
  private readonly guard: OutboundGuard;
  private readonly transport: Transport;

  constructor(private readonly options: NotificationSenderOptions) {
    this.guard = new OutboundGuard({ allowedHosts: options.allowedHosts, subject: 'notification', ...(options.resolver ? { resolver: options.resolver } : {}) });
    this.transport = options.transport ?? nodeTransport;
  }

  /**
   * At start-up: a StartupError when the rules refuse NOTIFY_URL (a private address not in FETCH_ALLOWED_HOSTS), so a
   * misconfiguration stops the indexer instead of failing every notification. A name that does not resolve now is
   * returned, not thrown: DNS may come back, and every send checks again.
   */
  async checkAtStart(): Promise<FetchError | null> {
    try {
      await this.guard.check(this.options.url);
      return null;
    } catch (error) {
      if (error instanceof FetchError && error.code !== 'fetch_dns_failed') throw new StartupError('notify_url_blocked', `NOTIFY_URL: ${error.message}`, error);
      return error as FetchError;
    }
  }

  /** Delivers `events` as one notification; throws FetchError unless the receiver answers 2xx. */
  async send(events: NotificationEvent[]): Promise<void> {
    const { url, address } = await this.guard.check(this.options.url);
    const body = Buffer.from(notificationBody(events));
    const headers = {
      'content-type': 'application/json',
      'content-length': String(body.length),
      'user-agent': 'Lookalike-Notifier/1',
      [SIGNATURE_HEADER]: signatureHeader(this.options.secrets, body),
    };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.options.timeoutMs);
    let response: TransportResponse;
    try {
      response = await this.transport({ url, address, signal: controller.signal, headers, method: 'POST', body });
    } catch (error) {
      if (controller.signal.aborted) throw new FetchError('fetch_timeout', `the notification receiver did not answer within ${this.options.timeoutMs} ms`, true, error);
      throw new FetchError('fetch_network_error', `cannot reach the notification receiver at ${url.host}: ${(error as Error).message}`, true, error);
    } finally {
      clearTimeout(timer);
    }
    response.destroy();
    if (response.status < 200 || response.status > 299) {
      throw new FetchError('fetch_http_error', `the notification receiver answered ${response.status}`, true);
    }
  }
}

/** The sender the indexer uses: NOTIFY_* settings and FETCH_ALLOWED_HOSTS. */
export function createNotificationSender(notify: NonNullable<Config['notify']>, fetch: Pick<Config['fetch'], 'allowedHosts'>, overrides: Pick<NotificationSenderOptions, 'resolver' | 'transport'> = {}): NotificationSender {
  return new NotificationSender({ url: notify.url, secrets: notify.secrets, timeoutMs: notify.timeoutMs, allowedHosts: fetch.allowedHosts, ...overrides });
}
