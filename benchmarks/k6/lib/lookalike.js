// Shared pieces of the Lookalike k6 scripts: settings, metrics, the requests, signed webhooks, scenarios, thresholds
// and the summary. Plain JavaScript as k6 runs it (not Node). Usually run by `npm run bench:load` (benchmarks/load.ts),
// which prepares the photo pools and the product export and passes their paths; docs/load.md says how to run k6 alone.
import http from 'k6/http';
import { hmac } from 'k6/crypto';
import { SharedArray } from 'k6/data';
import exec from 'k6/execution';
import { Rate, Trend } from 'k6/metrics';
import { sleep } from 'k6';

const number = (name, fallback) => (__ENV[name] !== undefined && __ENV[name] !== '' ? Number(__ENV[name]) : fallback);

/** Settings, from `k6 run -e NAME=value`. */
export const settings = {
  baseUrl: (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, ''),
  /** Requests per second (may be fractional) and how long. */
  rate: number('RATE', 5),
  duration: __ENV.DURATION || '30s',
  /** The client's patience: a request not answered by then is an error (status 0). */
  timeout: __ENV.TIMEOUT || '30s',
  maxVUs: number('MAX_VUS', 300),
  apiKey: __ENV.API_KEY || '',
  webhookSecret: __ENV.WEBHOOK_SECRET || '',
  /** Makes ids of created products and events unique to this run. */
  runId: __ENV.RUN_ID || String(Date.now()),
  /** Search options sent with each photo as the multipart `query` part (JSON), e.g. {"objects":true}. */
  photoQuery: __ENV.PHOTO_QUERY || '',
  /** How long a created or changed product may take to be indexed before it counts as a freshness timeout. */
  freshnessTimeoutS: number('FRESHNESS_TIMEOUT_S', 30),
  pollS: number('POLL_S', 0.2),
  summaryFile: __ENV.SUMMARY_FILE || '',
  /** Thresholds: the error and refusal shares a run may have. */
  errorRate: number('ERROR_RATE', 0.01),
  refusedRate: number('REFUSED_RATE', 0.01),
};

/** Every request of a kind is tagged `kind`; thresholds and the report read the tagged sub-metrics. */
export const KINDS = ['photo_640', 'photo_12mp', 'similar', 'vector', 'webhook', 'status', 'health'];

export const metrics = {
  /** Any answer but 2xx, or none (network error, timeout), except a refusal. */
  errors: new Rate('errors'),
  /** 503 `overloaded` (admission control): the API turned the request away at once, asking to come back later. */
  refused: new Rate('refused'),
  /** Latency of the requests the API admitted and answered (2xx). */
  admitted: new Trend('admitted_ms', true),
  /** Webhook 2xx → the product's status says indexed at the version sent (kind: new, price). */
  freshness: new Trend('freshness_ms', true),
  freshnessTimeouts: new Rate('freshness_timeouts'),
  /** The API's own timings_ms of photo searches, per stage (one metric each: the summary shows untagged metrics). */
  apiStages: Object.fromEntries(['decode', 'localize', 'embed', 'search', 'total'].map((stage) => [stage, new Trend(`api_${stage}_ms`, true)])),
  /** Share of photo searches that ran localization (candidate regions), the slow path. */
  localized: new Rate('localized'),
  /** The liveness probe (GET /healthz within 2 s) answered. */
  healthy: new Rate('healthy'),
};

function headers(extra) {
  const out = Object.assign({}, extra || {});
  if (settings.apiKey) out['X-API-Key'] = settings.apiKey;
  return out;
}

/** Records one response in the metrics; returns 'admitted', 'refused' or 'error'. */
export function record(response, kind) {
  const tags = { kind };
  let outcome = 'error';
  if (response.status >= 200 && response.status < 300) outcome = 'admitted';
  else if (response.status === 503 && errorCode(response) === 'overloaded') outcome = 'refused';
  metrics.errors.add(outcome === 'error', tags);
  metrics.refused.add(outcome === 'refused', tags);
  if (outcome === 'admitted') metrics.admitted.add(response.timings.duration, tags);
  else if (outcome === 'error' && errorsLogged < 3) {
    errorsLogged++;
    console.warn(`${kind}: ${response.status || response.error} ${String(response.body || '').slice(0, 200)}`);
  }
  return outcome;
}
let errorsLogged = 0;

function errorCode(response) {
  try {
    return response.json('error.code');
  } catch {
    return null;
  }
}

// ---------- inputs, read once in the init context ----------

/**
 * The photos of a pool manifest (`{ "files": [absolute paths] }`, written by the wrapper). k6 gives every VU its own
 * copy of what it opens, so each VU keeps `perVu` of them (all when 0), a different slice per VU.
 */
export function loadPhotos(manifestPath, perVu) {
  if (!manifestPath) return [];
  const files = JSON.parse(open(manifestPath)).files;
  // k6 lets VUs open only what the first initialisation (__VU 0, which runs no iterations) opened.
  if (__VU === 0) {
    for (const file of files) open(file, 'b');
    return [];
  }
  const count = perVu > 0 ? Math.min(perVu, files.length) : files.length;
  const out = [];
  for (let i = 0; i < count; i++) out.push(open(files[((__VU - 1) * count + i) % files.length], 'b'));
  return out;
}

/** Catalog products with a vector each (`[{ id, product, vector }]`), shared by every VU. */
export function loadProducts(path) {
  return new SharedArray('products', () => (path ? JSON.parse(open(path)) : []));
}

// ---------- requests ----------

const iteration = () => exec.scenario.iterationInTest;

export function searchPhoto(photos, kind) {
  const body = { image: http.file(photos[iteration() % photos.length], 'photo.jpg', 'image/jpeg') };
  if (settings.photoQuery) body.query = settings.photoQuery;
  const response = http.post(`${settings.baseUrl}/v1/search`, body, { headers: headers(), timeout: settings.timeout, tags: { kind, name: 'POST /v1/search (photo)' } });
  if (record(response, kind) === 'admitted') {
    const timings = response.json('timings_ms') || {};
    for (const stage of Object.keys(metrics.apiStages)) if (timings[stage] !== undefined) metrics.apiStages[stage].add(timings[stage], { kind });
    metrics.localized.add((timings.localize || 0) > 0, { kind });
  }
  return response;
}

export function searchSimilar(products) {
  const product = products[iteration() % products.length];
  const response = http.get(`${settings.baseUrl}/v1/products/${encodeURIComponent(product.id)}/similar?k=10`, { headers: headers(), timeout: settings.timeout, tags: { kind: 'similar', name: 'GET /v1/products/:id/similar' } });
  record(response, 'similar');
  return response;
}

export function searchVector(products) {
  const product = products[iteration() % products.length];
  const body = JSON.stringify({ vector: product.vector, k: 10 });
  const response = http.post(`${settings.baseUrl}/v1/search`, body, { headers: headers({ 'Content-Type': 'application/json' }), timeout: settings.timeout, tags: { kind: 'vector', name: 'POST /v1/search (vector)' } });
  record(response, 'vector');
  return response;
}

/** `Lookalike-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (core/webhook-signature.ts). */
export function signature(secret, body, timestamp) {
  return `t=${timestamp},v1=${hmac('sha256', secret, `${timestamp}.${body}`, 'hex')}`;
}

/** Posts catalog events through the signed webhook; returns the response. */
export function postWebhook(events) {
  const body = JSON.stringify(events.length === 1 ? events[0] : { events });
  const signed = signature(settings.webhookSecret, body, Math.floor(Date.now() / 1000));
  const response = http.post(`${settings.baseUrl}/v1/webhooks/catalog`, body, {
    headers: headers({ 'Content-Type': 'application/json', 'Lookalike-Signature': signed }),
    timeout: settings.timeout,
    tags: { kind: 'webhook', name: 'POST /v1/webhooks/catalog' },
  });
  record(response, 'webhook');
  return response;
}

/** A version newer than any the catalog holds for a product: the time in µs, unique within this run. */
const freshVersion = (n) => Date.now() * 1000 + (n % 1000);

/** A new product: a catalog product's attributes under a new id, its photos with distinct bytes (`?v=`). */
export function newProductEvent(products, n) {
  const template = products[n % products.length].product;
  const id = `load-${settings.runId}-${n}`;
  const fresh = (url) => `${url}${url.indexOf('?') >= 0 ? '&' : '?'}v=${settings.runId}-${n}`;
  const photos = template.images ? { images: template.images.map(fresh) } : { image_url: fresh(template.image_url) };
  const product = Object.assign({}, template, { id, title: `${template.title || 'product'} (load ${n})` }, photos);
  return { id: `load-${settings.runId}-new-${n}`, type: 'product.upsert', version: 1, product };
}

/** A price and stock change of a catalog product: the whole product again (an upsert replaces it), a newer version. */
export function priceChangeEvent(products, n) {
  const template = products[n % products.length].product;
  const price = Math.round((1 + ((n * 7919) % 50000) / 100) * 100) / 100;
  const product = Object.assign({}, template, { price, available: n % 4 !== 0 });
  return { id: `load-${settings.runId}-price-${n}`, type: 'product.upsert', version: freshVersion(n), product };
}

/**
 * Polls GET /v1/products/:id/status until it says indexed at `version` (or newer), and records the time since
 * `since` (the webhook's 2xx) in freshness_ms{kind}. Returns whether it got there before FRESHNESS_TIMEOUT_S.
 */
export function waitIndexed(id, version, kind, since) {
  const url = `${settings.baseUrl}/v1/products/${encodeURIComponent(id)}/status`;
  const params = { headers: headers(), timeout: settings.timeout, tags: { kind: 'status', name: 'GET /v1/products/:id/status' } };
  while (Date.now() - since < settings.freshnessTimeoutS * 1000) {
    const response = http.get(url, params);
    if (record(response, 'status') === 'admitted') {
      const state = response.json('state');
      if (state === 'indexed' && response.json('version') >= version) {
        metrics.freshness.add(Date.now() - since, { kind });
        metrics.freshnessTimeouts.add(false, { kind });
        return true;
      }
      if (state === 'failed') break;
    }
    sleep(settings.pollS);
  }
  metrics.freshnessTimeouts.add(true, { kind });
  return false;
}

/** Sends the event `eventOf` builds and measures its freshness when the webhook took it. */
export function sendAndWait(eventOf, kind) {
  let event;
  try {
    event = eventOf();
  } catch (error) {
    // A script that cannot build its event is a failed webhook, never a run that passes without sending it.
    metrics.errors.add(true, { kind: 'webhook' });
    throw error;
  }
  const response = postWebhook([event]);
  if (response.status !== 202) return;
  waitIndexed(event.product.id, event.version, kind, Date.now());
}

/** The liveness probe: GET /healthz, answered within 2 s. */
export function probeHealth() {
  const response = http.get(`${settings.baseUrl}/healthz`, { timeout: '2s', tags: { kind: 'health', name: 'GET /healthz' } });
  metrics.healthy.add(response.status === 200);
}

// ---------- scenarios, thresholds, summary ----------

/** An open-model scenario: `rate` iterations a second (fractional allowed) for `duration`, whatever the latency. */
export function arrival(execName, rate, duration, extra) {
  const timeoutS = parseFloat(settings.timeout) || 30;
  const maxVUs = Math.max(2, Math.min(settings.maxVUs, Math.ceil(rate * timeoutS) + 2));
  return Object.assign(
    {
      executor: 'constant-arrival-rate',
      exec: execName,
      rate: Math.max(1, Math.round(rate * 100)),
      timeUnit: '100s',
      duration,
      preAllocatedVUs: Math.min(maxVUs, Math.ceil(rate) + 2),
      maxVUs,
      gracefulStop: settings.timeout,
    },
    extra || {},
  );
}

/**
 * Per-kind thresholds: errors under `errorRate`, refusals at most `refusedRate` (unset: not every request refused),
 * admitted p95 under `p95[kind]` ms (P95_MS overrides). They also put each kind's sub-metrics into the summary.
 */
export function thresholds(kinds, limits) {
  const out = {};
  for (const kind of kinds) {
    out[`errors{kind:${kind}}`] = [limits.errorRate === 0 ? 'rate==0' : `rate<${limits.errorRate}`];
    out[`refused{kind:${kind}}`] = [limits.refusedRate === undefined ? 'rate<1' : `rate<=${limits.refusedRate}`];
    const p95 = number('P95_MS', limits.p95[kind]);
    if (p95 !== undefined) out[`admitted_ms{kind:${kind}}`] = [`p(95)<${p95}`];
  }
  return out;
}

export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'count'];

const ms = (value) => (value === undefined ? '-' : `${value.toFixed(1)} ms`);
const pct = (value) => (value === undefined ? '-' : `${(value * 100).toFixed(2)} %`);

/** handleSummary: the k6 summary data as JSON into SUMMARY_FILE (when set), and a short table per kind on stdout. */
export function summary(data, title) {
  const lines = [`${title}: ${data.metrics.http_reqs ? data.metrics.http_reqs.values.count : 0} requests`];
  for (const kind of KINDS) {
    const admitted = data.metrics[`admitted_ms{kind:${kind}}`];
    const errors = data.metrics[`errors{kind:${kind}}`];
    if (!admitted && !errors) continue;
    const v = admitted ? admitted.values : {};
    lines.push(`  ${kind.padEnd(11)} admitted ${String(v.count === undefined ? '-' : v.count).padStart(6)}  p50 ${ms(v.med)}  p95 ${ms(v['p(95)'])}  p99 ${ms(v['p(99)'])}  errors ${pct(errors && errors.values.rate)}  refused ${pct((data.metrics[`refused{kind:${kind}}`] || { values: {} }).values.rate)}`);
  }
  const failed = [];
  for (const name of Object.keys(data.metrics)) {
    for (const [expression, result] of Object.entries(data.metrics[name].thresholds || {})) if (!result.ok) failed.push(`${name} ${expression}`);
  }
  lines.push(failed.length ? `  thresholds failed: ${failed.join('; ')}` : '  thresholds: all passed');
  const out = { stdout: `${lines.join('\n')}\n` };
  if (settings.summaryFile) out[settings.summaryFile] = JSON.stringify(data, null, 1);
  return out;
}
