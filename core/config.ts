import os from 'node:os';
import { z } from 'zod';
import { StartupError, describeIssues } from './errors';
import { HostHeaders, hostHeadersSchema } from './net/host-headers';
import { parseTrustProxy, type TrustProxy } from './net/trust-proxy';

/**
 * The one place that reads configuration. `loadConfig(process.env)` validates every variable once, reports every bad
 * key in a single error, and returns a typed, nested object. Every setting has a default that works on a developer
 * machine (the services that `npm run services:up` starts). The README's configuration table lists them all.
 */

export const VECTOR_INDEX_TYPES = ['int8_hnsw', 'int4_hnsw', 'bbq_hnsw', 'hnsw', 'flat', 'int8_flat', 'bbq_flat'] as const;
export type VectorIndexType = (typeof VECTOR_INDEX_TYPES)[number];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** `id:weight,id:weight` as a record (empty for ""). */
const parseWeights = (value: string): Record<string, number> =>
  Object.fromEntries(value.split(',').filter(Boolean).map((pair) => [pair.split(':')[0]!, Number(pair.split(':')[1])]));

/**
 * Which models propose a hybrid search's candidates (HYBRID_CANDIDATES): `lead`, the one weighted most; `all`, every
 * model; `auto`, the one weighted most unless the request has filters that pass less than HYBRID_LEAD_SHARE of the
 * catalog (or not counted yet), then every model.
 */
export const HYBRID_CANDIDATES = ['auto', 'lead', 'all'] as const;
/** HYBRID_LEAD_SHARE's default: between the measured 5 % (every model needed) and 50 % (the main model enough). */
export const DEFAULT_LEAD_SHARE = 0.25;
export type HybridCandidatesSetting = (typeof HYBRID_CANDIDATES)[number];
/** Which models propose one search's candidates. */
export type HybridCandidates = Exclude<HybridCandidatesSetting, 'auto'>;

/** The built-in models' hybrid weights, measured on the dev set (benchmarks/results/embedding-quality.md). */
const BUILTIN_WEIGHTS: Record<string, number> = { 'efficientnet-lite0': 0.6, 'colour-texture': 0.4 };

/**
 * The default hybrid weights: SEARCH_MODEL_WEIGHTS when set (every model it names is loaded: checked above), else the
 * built-in weights of the loaded models, else every loaded model alike. A default never names a model that is not
 * loaded, which would make every search without `models` a 400 unknown_model.
 */
function defaultWeights(configured: string | undefined, models: string[]): Record<string, number> {
  if (configured) return parseWeights(configured);
  const builtin = Object.fromEntries(models.flatMap((id) => (BUILTIN_WEIGHTS[id] ? [[id, BUILTIN_WEIGHTS[id]]] : [])));
  return Object.keys(builtin).length > 0 ? builtin : Object.fromEntries(models.map((id) => [id, 1]));
}

const list = (value: string): string[] => value.split(',').map((item) => item.trim()).filter(Boolean);

const positiveInt = z.coerce.number().int().positive();
/** One API_KEYS entry: `<key>:<scope>[+<scope>…][@<catalog>[|<catalog>…]]` (catalog names as core/catalog.ts has them). */
const API_SCOPE = '(search|webhook|admin)';
const CATALOG_NAME = '[a-z0-9][a-z0-9_-]{0,63}';
const API_KEY_ENTRY = `[\\x21-\\x2b\\x2d-\\x7e]{16,}:${API_SCOPE}(\\+${API_SCOPE})*(@${CATALOG_NAME}(\\|${CATALOG_NAME})*)?`;
const nonNegativeInt = z.coerce.number().int().nonnegative();
const bool = z.stringbool({ truthy: ['true', '1', 'yes', 'on'], falsy: ['false', '0', 'no', 'off'] });
const indexName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,100}$/, 'lower-case letters, digits, "-" and "_", starting with a letter or digit');

const vectorOverride = z
  .object({
    type: z.enum(VECTOR_INDEX_TYPES).optional(),
    m: positiveInt.optional(),
    efConstruction: positiveInt.optional(),
    oversample: z.coerce.number().min(0).max(20).optional(),
  })
  .strict();

/** TRUST_PROXY: Express's `trust proxy` (core/net/trust-proxy.ts). */
const trustProxy = z.string().transform((text, ctx): TrustProxy => {
  const parsed = parseTrustProxy(text);
  if ('value' in parsed) return parsed.value;
  ctx.addIssue({ code: 'custom', message: `not true/false, a hop count, or addresses, subnets and loopback/linklocal/uniquelocal: ${parsed.bad.map((entry) => JSON.stringify(entry)).join(', ')}` });
  return z.NEVER;
});

/** ES_URL: one node's URL or several, comma-separated; the client spreads requests over them. */
const elasticsearchNodes = z.string().transform((text, ctx) => {
  const nodes = list(text).map((node) => node.replace(/\/+$/, ''));
  const bad = nodes.filter((node) => !z.url({ protocol: /^https?$/ }).safeParse(node).success);
  if (nodes.length === 0 || bad.length > 0) {
    ctx.addIssue({ code: 'custom', message: `not an http(s) URL or a comma-separated list of them: ${(bad.length > 0 ? bad : [text]).map((node) => JSON.stringify(node)).join(', ')}` });
    return z.NEVER;
  }
  return nodes;
});

/** REDIS_SENTINELS: `host:port`, comma-separated. */
const sentinelHosts = z.string().transform((text, ctx) => {
  const entries = list(text);
  const parsed = entries.map((entry) => /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry));
  const bad = entries.filter((_, i) => !parsed[i] || Number(parsed[i]![2]) > 65_535);
  if (entries.length === 0 || bad.length > 0) {
    ctx.addIssue({ code: 'custom', message: `not host:port, comma-separated: ${(bad.length > 0 ? bad : [text]).map((entry) => JSON.stringify(entry)).join(', ')}` });
    return z.NEVER;
  }
  return parsed.map((match) => ({ host: match![1]!.replace(/^\[|\]$/g, ''), port: Number(match![2]) }));
});

const jsonRecord = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be JSON' });
    return z.NEVER;
  }
});

const envSchema = z.object({
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),

  ES_URL: elasticsearchNodes.default(['http://127.0.0.1:9200']),
  ES_USERNAME: z.string().min(1).optional(),
  ES_PASSWORD: z.string().min(1).optional(),
  ES_API_KEY: z.string().min(1).optional(),
  ES_REQUEST_TIMEOUT_MS: positiveInt.default(30_000),
  ES_MAX_RETRIES: nonNegativeInt.max(10).default(3),
  ES_COMPRESSION: bool.default(false),

  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  REDIS_SENTINELS: sentinelHosts.optional(),
  REDIS_SENTINEL_NAME: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "-" and "_"').default('lookalike'),
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  REDIS_WAIT_REPLICAS: nonNegativeInt.max(16).optional(),
  QUEUE_PREFIX: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'letters, digits, "-" and "_"').default('lookalike'),

  INDEX_ALIAS: indexName.default('products'),
  INDEX_SHARDS: positiveInt.max(64).default(1),
  INDEX_REPLICAS: nonNegativeInt.max(8).default(0),
  INDEX_REFRESH_INTERVAL: z.string().regex(/^(-1|\d+(ms|s|m))$/, 'like 1s, 500ms or -1').default('1s'),

  VECTOR_INDEX_TYPE: z.enum(VECTOR_INDEX_TYPES).default('int8_hnsw'),
  VECTOR_HNSW_M: positiveInt.max(512).default(32),
  VECTOR_HNSW_EF_CONSTRUCTION: positiveInt.max(4096).default(200),
  VECTOR_RESCORE_OVERSAMPLE: z.coerce.number().min(0).max(20).default(3),
  VECTOR_INDEX_OVERRIDES: jsonRecord.pipe(z.record(z.string(), vectorOverride)).default({}),

  MODELS: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*(,[a-z0-9][a-z0-9_-]*)*$/, 'comma-separated model ids')
    .default('efficientnet-lite0,colour-texture'),
  MODEL_DIR: z.string().min(1).optional(),

  ONNX_EXECUTION_PROVIDER: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
  ONNX_INTRA_OP_THREADS: nonNegativeInt.max(256).default(0),
  ONNX_INTER_OP_THREADS: nonNegativeInt.max(64).default(1),
  /** 0: by execution provider (batchLimit in core/embedding/onnx-model.ts). */
  EMBED_MAX_BATCH: nonNegativeInt.max(256).default(0),
  IMAGE_MAX_BYTES: positiveInt.max(200 * 1024 * 1024).default(20 * 1024 * 1024),
  IMAGE_MAX_PIXELS: positiveInt.max(1_000_000_000).default(50_000_000),
  IMAGE_WORKING_SIZE: positiveInt.min(224).max(4096).default(512),
  AUTOCROP: z.enum(['model', 'localize', 'trim', 'attention', 'none']).default('model'),
  LOCALIZE_MAX_REGIONS: positiveInt.min(2).max(64).default(24),
  LOCALIZE_PRIMARY_REGIONS: positiveInt.min(2).max(64).default(16),
  LOCALIZE_SKIP_SCORE: z.coerce.number().min(0).max(3).default(0.9),
  LOCALIZE_SCORER: z.enum(['int8', 'float']).default('int8'),
  LOCALIZE_MAP: z.enum(['int8', 'float']).default('int8'),
  LOCALIZE_RESCORE_REGIONS: z.coerce.number().int().min(0).max(64).default(3),
  LOCALIZE_OBJECTNESS: z.enum(['always', 'objects']).default('always'),
  LOCALIZE_NEAR_DUPLICATE: z.coerce.number().min(0).max(1).default(0.8),

  WEBHOOK_SECRETS: z.string().optional(),
  WEBHOOK_TOLERANCE_S: positiveInt.max(86_400).default(300),
  WEBHOOK_MAX_BYTES: positiveInt.max(64 * 1024 * 1024).default(5 * 1024 * 1024),
  EVENT_DEDUP_TTL_S: positiveInt.default(7 * 86_400),

  FETCH_ALLOWED_HOSTS: z.string().default(''),
  FETCH_TIMEOUT_MS: positiveInt.max(300_000).default(15_000),
  FETCH_MAX_REDIRECTS: nonNegativeInt.max(10).default(3),
  FETCH_HEADERS: jsonRecord.pipe(hostHeadersSchema).optional(),

  NOTIFY_URL: z.url({ protocol: /^https?$/, message: 'must be an http or https URL' }).optional(),
  NOTIFY_SECRET: z.string().optional(),
  NOTIFY_ATTEMPTS: positiveInt.max(100).default(12),
  NOTIFY_BACKOFF_MS: positiveInt.max(3_600_000).default(1_000),
  NOTIFY_TIMEOUT_MS: positiveInt.max(300_000).default(10_000),
  NOTIFY_BATCH_WAIT_MS: nonNegativeInt.max(10_000).default(50),

  WORKER_CONCURRENCY: positiveInt.max(16384).default(2048),
  BATCH_MAX_ITEMS: positiveInt.max(1024).default(64),
  BATCH_MAX_WAIT_MS: nonNegativeInt.max(10_000).default(50),
  EMBED_CONCURRENCY: positiveInt.max(64).default(1),
  JOB_ATTEMPTS: positiveInt.max(100).default(8),
  JOB_BACKOFF_MS: positiveInt.max(600_000).default(1_000),
  JOB_LOCK_MS: positiveInt.min(1_000).max(600_000).default(30_000),
  JOB_HISTORY: nonNegativeInt.max(1_000_000).default(1_000),
  JOB_COMPLETED_TTL_S: positiveInt.max(30 * 86_400).default(3_600),
  JOB_FAILED_TTL_S: positiveInt.max(90 * 86_400).default(7 * 86_400),
  TOMBSTONE_TTL_S: positiveInt.default(7 * 86_400),
  WRITE_REFRESH: z.enum(['wait_for', 'false']).default('wait_for'),
  SHUTDOWN_TIMEOUT_MS: positiveInt.max(600_000).default(20_000),
  INDEXER_PORT: nonNegativeInt.max(65_535).default(9464),
  INDEXER_HOST: z.string().min(1).default('127.0.0.1'),

  SEARCH_MODEL_WEIGHTS: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*:\d+(\.\d+)?(,[a-z0-9][a-z0-9_-]*:\d+(\.\d+)?)*$/, 'like efficientnet-lite0:0.6,colour-texture:0.4')
    .optional(),
  QUERY_TTL_S: positiveInt.max(86_400).default(900),
  RERANK_DEFAULT: bool.default(false),
  HYBRID_CANDIDATES: z.enum(HYBRID_CANDIDATES).default('auto'),
  HYBRID_LEAD_SHARE: z.coerce.number().min(0).max(1).default(DEFAULT_LEAD_SHARE),
  CATALOG_SCOPE_TTL_S: nonNegativeInt.max(3600).default(30),
  API_KEYS: z
    .string()
    .regex(
      new RegExp(`^${API_KEY_ENTRY}(,${API_KEY_ENTRY})*$`),
      'comma-separated <key of 16+ characters>:<scope>[+<scope>][@<catalog>[|<catalog>]] with scopes search, webhook, admin',
    )
    .optional(),
  RATE_LIMIT_PER_S: nonNegativeInt.max(100_000).default(50),
  RATE_LIMIT_BURST: positiveInt.max(1_000_000).default(100),
  SEARCH_CONCURRENCY: nonNegativeInt.max(4096).default(0),
  SEARCH_QUEUE: nonNegativeInt.max(100_000).default(32),
  SEARCH_QUEUE_WAIT_MS: positiveInt.max(60_000).default(100),
  TRUST_PROXY: trustProxy.default(false),
  REQUEST_TIMEOUT_MS: positiveInt.max(600_000).default(30_000),
  HEADERS_TIMEOUT_MS: positiveInt.max(600_000).default(10_000),
  API_PORT: nonNegativeInt.max(65_535).default(8080),
  API_HOST: z.string().min(1).default('0.0.0.0'),
});

/**
 * The variables above as the nested object the code uses. `Config` is inferred from this transform, so a setting is
 * named in the schema and placed here, and nowhere else.
 */
const configSchema = envSchema
  .superRefine((e, ctx) => {
    if ((e.ES_USERNAME === undefined) !== (e.ES_PASSWORD === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['ES_USERNAME'], message: 'ES_USERNAME and ES_PASSWORD go together' });
    }
    const loaded = new Set(e.MODELS.split(','));
    const weighted = Object.keys(parseWeights(e.SEARCH_MODEL_WEIGHTS ?? ''));
    const unloaded = weighted.filter((id) => !loaded.has(id));
    if (unloaded.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['SEARCH_MODEL_WEIGHTS'], message: `names ${unloaded.join(', ')}, which MODELS does not load` });
    }
    if (e.NOTIFY_URL !== undefined && list(e.NOTIFY_SECRET ?? '').length === 0) {
      ctx.addIssue({ code: 'custom', path: ['NOTIFY_SECRET'], message: 'required when NOTIFY_URL is set (receivers verify the Lookalike-Signature with it)' });
    }
  })
  .transform((e) => ({
    log: { level: e.LOG_LEVEL },
    elasticsearch: {
      /** Every node the client may send requests to (no sniffing: a cluster's published addresses may be unreachable). */
      nodes: e.ES_URL,
      /** The same, comma-separated, as ES_URL takes it: for messages and for child processes. */
      url: e.ES_URL.join(','),
      /** An API key wins over a username and password; neither: no credentials. */
      auth: e.ES_API_KEY
        ? { apiKey: e.ES_API_KEY }
        : e.ES_USERNAME && e.ES_PASSWORD
          ? { username: e.ES_USERNAME, password: e.ES_PASSWORD }
          : undefined,
      requestTimeoutMs: e.ES_REQUEST_TIMEOUT_MS,
      maxRetries: e.ES_MAX_RETRIES,
      compression: e.ES_COMPRESSION,
    },
    redis: {
      /** Standalone Redis; with Sentinels, only its credentials, database and TLS are used. */
      url: e.REDIS_URL,
      /** Sentinels to ask for the current primary of `sentinelName`; absent: `url` is the Redis. */
      sentinel: e.REDIS_SENTINELS ? { hosts: e.REDIS_SENTINELS, name: e.REDIS_SENTINEL_NAME, password: e.REDIS_SENTINEL_PASSWORD } : undefined,
      /**
       * Replicas that must hold an accepted event before the API answers 202 (Redis WAIT): an event acknowledged by
       * a primary alone is lost if that primary dies before replicating it. Default 1 with Sentinels, else 0.
       */
      waitReplicas: e.REDIS_WAIT_REPLICAS ?? (e.REDIS_SENTINELS ? 1 : 0),
      queuePrefix: e.QUEUE_PREFIX,
    },
    index: { alias: e.INDEX_ALIAS, shards: e.INDEX_SHARDS, replicas: e.INDEX_REPLICAS, refreshInterval: e.INDEX_REFRESH_INTERVAL },
    vectors: {
      /** How each model's `dense_vector` field is indexed, unless its manifest or an override says otherwise. */
      defaults: {
        type: e.VECTOR_INDEX_TYPE,
        /** HNSW graph degree (ignored by flat types). */
        m: e.VECTOR_HNSW_M,
        /** HNSW candidates while building (ignored by flat types). */
        efConstruction: e.VECTOR_HNSW_EF_CONSTRUCTION,
        /** Quantized types only: rescore `oversample × k` candidates with the raw vectors; 0 turns rescoring off. */
        oversample: e.VECTOR_RESCORE_OVERSAMPLE,
      },
      overrides: e.VECTOR_INDEX_OVERRIDES,
    },
    /** Embedding models to load, by manifest id; `dir` holds manifests of models you bring. */
    models: { ids: [...new Set(e.MODELS.split(','))], dir: e.MODEL_DIR },
    onnx: {
      /** `auto`: CUDA when its provider library loads, else CPU. */
      provider: e.ONNX_EXECUTION_PROVIDER,
      /** 0 = ONNX Runtime's default (one per core). */
      intraOpThreads: e.ONNX_INTRA_OP_THREADS,
      interOpThreads: e.ONNX_INTER_OP_THREADS,
      /** Largest batch per run (a model's manifest may lower it). */
      maxBatch: e.EMBED_MAX_BATCH,
    },
    image: {
      maxBytes: e.IMAGE_MAX_BYTES,
      maxPixels: e.IMAGE_MAX_PIXELS,
      /** Long side of the decoded working image every model's preprocessing starts from. */
      workingSize: e.IMAGE_WORKING_SIZE,
      /**
       * `model`: catalog photos get each model's manifest crop (trim), queries `localize`; `localize`: the same (a
       * catalog photo has no catalog to score its regions against); otherwise one mode for catalog photos and queries.
       */
      autocrop: e.AUTOCROP,
      /** Most candidate regions a localized photo query embeds and searches (fewer: faster, less recall). */
      localizeMaxRegions: e.LOCALIZE_MAX_REGIONS,
      /** The same for a query that asks for the main product alone (no `objects`); the localizer caps it at the above. */
      localizePrimaryRegions: e.LOCALIZE_PRIMARY_REGIONS,
      /**
       * A photo without a trim is searched whole, with no localization, when the catalog answers it this clearly (its
       * first cosine + 2 × its lead over the second, by the main model); 0: always localize (LocalizerSettings.skipScore).
       */
      localizeSkipScore: e.LOCALIZE_SKIP_SCORE,
      /**
       * Which copy of the main model ranks the localization candidates: `int8` (its manifest's `quantized` copy, where it
       * has one: ~2.5× faster on CPU; the chosen regions are then embedded by the model itself) or `float` (the model).
       */
      localizeScorer: e.LOCALIZE_SCORER,
      /**
       * Which copy of the localizer computes a photo's feature map (the candidates' source): `int8` (the manifest's
       * `quantized` copy: ~2.5× faster on CPU) or `float`.
       */
      localizeMap: e.LOCALIZE_MAP,
      /** With LOCALIZE_SCORER=int8: the copy's best regions scored again by the model, the primary chosen among them. */
      localizeRescoreRegions: e.LOCALIZE_RESCORE_REGIONS,
      /**
       * A region's lead passes over results this alike to its first (catalog cosine, main model): a recoloured variant
       * right behind an item no longer cancels the item region's lead (core/localization/near-duplicates.ts); 0: off.
       */
      localizeNearDuplicate: e.LOCALIZE_NEAR_DUPLICATE,
      /**
       * Whether the objectness head's boxes are candidates of every localized photo query (`always`) or only of those
       * asking for `objects` (LocalizerSettings.objectnessPrimary).
       */
      localizeObjectness: e.LOCALIZE_OBJECTNESS,
      /** How a query photo is cropped when the request says `crop: "auto"`. */
      queryCrop: e.AUTOCROP === 'model' || e.AUTOCROP === 'localize' ? ('localize' as const) : e.AUTOCROP,
    },
    webhook: { secrets: list(e.WEBHOOK_SECRETS ?? ''), toleranceSeconds: e.WEBHOOK_TOLERANCE_S, maxBytes: e.WEBHOOK_MAX_BYTES, dedupTtlSeconds: e.EVENT_DEDUP_TTL_S },
    fetch: {
      allowedHosts: list(e.FETCH_ALLOWED_HOSTS),
      timeoutMs: e.FETCH_TIMEOUT_MS,
      maxRedirects: e.FETCH_MAX_REDIRECTS,
      /** Request headers per image host (a private CDN's token), sent to that host only; values never serialised. */
      hostHeaders: new HostHeaders(e.FETCH_HEADERS ?? {}),
    },
    /**
     * Product notifications to NOTIFY_URL (docs/notifications.md), signed with every NOTIFY_SECRET (comma-separated:
     * one v1 each, for rotation), retried NOTIFY_ATTEMPTS times with exponential backoff from NOTIFY_BACKOFF_MS.
     * Undefined when NOTIFY_URL is not set.
     */
    notify: e.NOTIFY_URL
      ? {
          url: e.NOTIFY_URL,
          secrets: list(e.NOTIFY_SECRET ?? ''),
          attempts: e.NOTIFY_ATTEMPTS,
          backoffMs: e.NOTIFY_BACKOFF_MS,
          timeoutMs: e.NOTIFY_TIMEOUT_MS,
          /** Events finished within this long of each other go out as one `{ events }` notification. */
          batchWaitMs: e.NOTIFY_BATCH_WAIT_MS,
        }
      : undefined,
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      /** A batch closes at this many items or after batchMaxWaitMs, whichever comes first. */
      batchMaxItems: e.BATCH_MAX_ITEMS,
      batchMaxWaitMs: e.BATCH_MAX_WAIT_MS,
      /** Batches embedding at once in one indexer (embedding already uses every core). */
      embedConcurrency: e.EMBED_CONCURRENCY,
      attempts: e.JOB_ATTEMPTS,
      backoffMs: e.JOB_BACKOFF_MS,
      lockMs: e.JOB_LOCK_MS,
      /** Completed and failed jobs kept per queue, at most (default 1000). */
      history: e.JOB_HISTORY,
      /**
       * How long a completed job (its payload: a product's data) is kept, in seconds (default 1 hour): long enough
       * to look at what just happened, short enough that a deleted product's data does not linger.
       */
      completedTtlSeconds: e.JOB_COMPLETED_TTL_S,
      /** How long a failed job is kept for inspection, with its reason, in seconds (default 7 days). */
      failedTtlSeconds: e.JOB_FAILED_TTL_S,
      tombstoneTtlSeconds: e.TOMBSTONE_TTL_S,
      /** `wait_for`: a write returns once searchable (freshness is measured to that point). */
      refresh: e.WRITE_REFRESH,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
      /** Health and metrics port of the indexer (0 = off). */
      port: e.INDEXER_PORT,
      host: e.INDEXER_HOST,
    },
    api: {
      port: e.API_PORT,
      host: e.API_HOST,
      /** `<key>:<scope>[+<scope>][@<catalog>[|<catalog>]]` entries; empty: search and status public, webhooks by signature alone. */
      keys: list(e.API_KEYS ?? ''),
      /** Search requests a second per client (0: no limit), and the burst allowed; shared by all API processes through Redis. */
      rateLimitPerSecond: e.RATE_LIMIT_PER_S,
      rateLimitBurst: e.RATE_LIMIT_BURST,
      /**
       * Admission control per API process: searches running at once (0: 1 per core), waiting for a slot, and the
       * longest wait; past them a search is answered 503 `overloaded` at once (api/services/admission.ts).
       */
      admission: {
        concurrency: e.SEARCH_CONCURRENCY || os.availableParallelism(),
        queue: e.SEARCH_QUEUE,
        maxWaitMs: e.SEARCH_QUEUE_WAIT_MS,
      },
      /**
       * Express's `trust proxy`: which hops' X-Forwarded-For to believe, so that `request.ip` (the rate limit's key
       * for requests without an API key) is the client's address behind a load balancer. Default false: the socket's.
       */
      trustProxy: e.TRUST_PROXY,
      /** Whole-request and header deadlines against slow clients. */
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
    },
    /** Default hybrid weights per model (measured on the dev set: benchmarks/results/embedding-quality.md). */
    search: {
      weights: defaultWeights(e.SEARCH_MODEL_WEIGHTS, [...new Set(e.MODELS.split(','))]),
      /** How long a search's query (its embeddings, never the photo) can be re-run by `query_id`, in seconds (default 900). */
      queryTtlSeconds: e.QUERY_TTL_S,
      /**
       * Whether a search without `rerank` runs the precision stage (where it can: a photo or product whose regions are
       * described). Off: it fits the latency budget one search at a time, but the knee of photo search falls from 28 to
       * 22 searches/s with it (benchmarks/results/rerank-on/load-knee.md; docs/search.md).
       */
      rerankByDefault: e.RERANK_DEFAULT,
      /**
       * Which models propose a hybrid search's candidates: `auto` (default), the model weighted most for a search
       * without filters and every model for one with filters; `lead`; `all` (`hybridCandidates` in
       * core/search/catalog-search.ts, benchmarks/results/hybrid-candidates-fanout.md).
       */
      hybridCandidates: e.HYBRID_CANDIDATES,
      /**
       * With `auto`: a search whose filters pass at least this share of the catalog (counted lately:
       * core/search/filter-share.ts) asks the model weighted most alone, as one without filters does (default 0.25).
       */
      hybridLeadShare: e.HYBRID_LEAD_SHARE,
      /**
       * How old the API's reading of the catalogs in the index may be, in seconds (default 30): while the index holds
       * one catalog, its searches leave the catalog filter out (core/search/catalog-scope.ts); 0 keeps it always.
       */
      catalogScopeTtlSeconds: e.CATALOG_SCOPE_TTL_S,
    },
  }));

export type Env = Record<string, string | undefined>;
export type Config = z.output<typeof configSchema>;
/** How one model's `dense_vector` field is indexed. */
export type VectorIndexOptions = Config['vectors']['defaults'];

/** Validates `env` and returns the typed configuration, or throws one StartupError naming every bad key. */
export function loadConfig(env: Env = process.env): Config {
  // Empty strings mean "not set", as in most .env files and compose files.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    throw new StartupError('invalid_config', `invalid configuration: ${describeIssues(parsed.error.issues).join('; ')}`);
  }
  return parsed.data;
}

/**
 * The index options for one model: the configured defaults, then what the model's manifest asks for, then the
 * model's entry in VECTOR_INDEX_OVERRIDES.
 */
export function vectorOptionsFor(config: Config, modelId: string, fromManifest: Partial<VectorIndexOptions> = {}): VectorIndexOptions {
  return { ...config.vectors.defaults, ...fromManifest, ...config.vectors.overrides[modelId] };
}
