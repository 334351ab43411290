import express from 'express';
import { loadConfig, vectorOptionsFor } from '../../../core/config';
import { StartupError } from '../../../core/errors';

describe('loadConfig', () => {
  it('has working defaults for a developer machine', () => {
    const config = loadConfig({});
    expect(config.elasticsearch.url).toBe('http://127.0.0.1:9200');
    expect(config.elasticsearch.nodes).toEqual(['http://127.0.0.1:9200']);
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.redis.sentinel).toBeUndefined();
    expect(config.redis.waitReplicas).toBe(0);
    expect(config.index.alias).toBe('products');
    expect(config.vectors.defaults).toEqual({ type: 'int8_hnsw', m: 32, efConstruction: 200, oversample: 3 });
    expect(config.models.ids).toEqual(['efficientnet-lite0', 'colour-texture']);
    expect(config.elasticsearch.auth).toBeUndefined();
  });

  it('default hybrid weights name only the models that are loaded; SEARCH_MODEL_WEIGHTS may name no other', () => {
    expect(loadConfig({}).search.weights).toEqual({ 'efficientnet-lite0': 0.6, 'colour-texture': 0.4 });
    expect(loadConfig({ MODELS: 'colour-texture' }).search.weights).toEqual({ 'colour-texture': 0.4 });
    expect(loadConfig({ MODELS: 'my-model,other-model', MODEL_DIR: '/models' }).search.weights).toEqual({ 'my-model': 1, 'other-model': 1 });
    expect(loadConfig({ MODELS: 'colour-texture', SEARCH_MODEL_WEIGHTS: 'colour-texture:1' }).search.weights).toEqual({ 'colour-texture': 1 });
    expect(() => loadConfig({ MODELS: 'colour-texture', SEARCH_MODEL_WEIGHTS: 'efficientnet-lite0:0.6,colour-texture:0.4' })).toThrow(/SEARCH_MODEL_WEIGHTS.*efficientnet-lite0, which MODELS does not load/);
  });

  it('HYBRID_CANDIDATES: auto by default, or lead, or all; nothing else', () => {
    expect(loadConfig({}).search.hybridCandidates).toBe('auto');
    expect(loadConfig({ HYBRID_CANDIDATES: 'all' }).search.hybridCandidates).toBe('all');
    expect(loadConfig({ HYBRID_CANDIDATES: 'lead' }).search.hybridCandidates).toBe('lead');
    expect(() => loadConfig({ HYBRID_CANDIDATES: 'colour' })).toThrow(/HYBRID_CANDIDATES/);
  });

  it('HYBRID_LEAD_SHARE: 0.25 by default, a share 0–1', () => {
    expect(loadConfig({}).search.hybridLeadShare).toBe(0.25);
    expect(loadConfig({ HYBRID_LEAD_SHARE: '0.5' }).search.hybridLeadShare).toBe(0.5);
    expect(() => loadConfig({ HYBRID_LEAD_SHARE: '1.5' })).toThrow(/HYBRID_LEAD_SHARE/);
    expect(() => loadConfig({ HYBRID_LEAD_SHARE: 'half' })).toThrow(/HYBRID_LEAD_SHARE/);
  });

  it('LOCALIZE_SCORER / LOCALIZE_MAP: int8 by default, or float; LOCALIZE_RESCORE_REGIONS 0–64, 3 by default; LOCALIZE_OBJECTNESS always or objects', () => {
    expect(loadConfig({}).image).toMatchObject({ localizeScorer: 'int8', localizeMap: 'int8', localizeRescoreRegions: 3, localizeObjectness: 'always' });
    expect(loadConfig({ LOCALIZE_SCORER: 'float', LOCALIZE_MAP: 'float', LOCALIZE_RESCORE_REGIONS: '0', LOCALIZE_OBJECTNESS: 'objects' }).image).toMatchObject({ localizeScorer: 'float', localizeMap: 'float', localizeRescoreRegions: 0, localizeObjectness: 'objects' });
    expect(() => loadConfig({ LOCALIZE_SCORER: 'fp16' })).toThrow(/LOCALIZE_SCORER/);
    expect(() => loadConfig({ LOCALIZE_MAP: 'int4' })).toThrow(/LOCALIZE_MAP/);
    expect(() => loadConfig({ LOCALIZE_RESCORE_REGIONS: '65' })).toThrow(/LOCALIZE_RESCORE_REGIONS/);
    expect(() => loadConfig({ LOCALIZE_OBJECTNESS: 'never' })).toThrow(/LOCALIZE_OBJECTNESS/);
  });

  it('LOCALIZE_NEAR_DUPLICATE: a catalog cosine in 0–1, 0.8 by default, 0 off', () => {
    expect(loadConfig({}).image.localizeNearDuplicate).toBe(0.8);
    expect(loadConfig({ LOCALIZE_NEAR_DUPLICATE: '0' }).image.localizeNearDuplicate).toBe(0);
    expect(() => loadConfig({ LOCALIZE_NEAR_DUPLICATE: '1.5' })).toThrow(/LOCALIZE_NEAR_DUPLICATE/);
  });

  it('parses and types every variable', () => {
    const config = loadConfig({
      ES_URL: 'https://es.internal:9243/',
      ES_API_KEY: 'abc',
      ES_COMPRESSION: 'false',
      INDEX_SHARDS: '3',
      VECTOR_INDEX_OVERRIDES: '{"colour-texture":{"type":"flat"}}',
      MODELS: 'colour-texture',
      LOG_LEVEL: 'warn',
    });
    expect(config.elasticsearch).toMatchObject({ url: 'https://es.internal:9243', auth: { apiKey: 'abc' }, compression: false });
    expect(config.index.shards).toBe(3);
    expect(vectorOptionsFor(config, 'colour-texture', { type: 'bbq_hnsw', m: 32 })).toEqual({ type: 'flat', m: 32, efConstruction: 200, oversample: 3 });
    expect(config.models.ids).toEqual(['colour-texture']);
  });

  it('gives the Elasticsearch client every node of a comma-separated ES_URL', () => {
    const config = loadConfig({ ES_URL: 'http://10.0.0.1:9200/, http://10.0.0.2:9200,https://es-3.internal:9243' });
    expect(config.elasticsearch.nodes).toEqual(['http://10.0.0.1:9200', 'http://10.0.0.2:9200', 'https://es-3.internal:9243']);
    expect(config.elasticsearch.url).toBe('http://10.0.0.1:9200,http://10.0.0.2:9200,https://es-3.internal:9243');
    expect(() => loadConfig({ ES_URL: 'http://10.0.0.1:9200,redis://10.0.0.2:6379' })).toThrow(/ES_URL: .*"redis:\/\/10\.0\.0\.2:6379"/);
    expect(() => loadConfig({ ES_URL: ',' })).toThrow(/ES_URL/);
  });

  it('connects through Redis Sentinels when REDIS_SENTINELS is set, and then waits for a replica by default', () => {
    const config = loadConfig({ REDIS_SENTINELS: '127.0.0.1:26379, sentinel-2:26380,[::1]:26381', REDIS_SENTINEL_NAME: 'queue-primary' });
    expect(config.redis.sentinel).toEqual({
      hosts: [{ host: '127.0.0.1', port: 26379 }, { host: 'sentinel-2', port: 26380 }, { host: '::1', port: 26381 }],
      name: 'queue-primary',
      password: undefined,
    });
    expect(config.redis.waitReplicas).toBe(1);
    expect(loadConfig({ REDIS_SENTINELS: '127.0.0.1:26379', REDIS_WAIT_REPLICAS: '0' }).redis.waitReplicas).toBe(0);
    expect(loadConfig({ REDIS_WAIT_REPLICAS: '2' }).redis.waitReplicas).toBe(2);
    expect(loadConfig({ REDIS_SENTINELS: '127.0.0.1:26379' }).redis.sentinel?.name).toBe('lookalike');
    for (const bad of ['127.0.0.1', '127.0.0.1:99999', 'a b:1', ',']) expect(() => loadConfig({ REDIS_SENTINELS: bad })).toThrow(/REDIS_SENTINELS/);
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ ES_URL: '', INDEX_ALIAS: '' }).index.alias).toBe('products');
  });

  it('reports every bad key in one error', () => {
    let caught: unknown;
    try {
      loadConfig({ ES_URL: 'not a url', INDEX_SHARDS: '-1', VECTOR_INDEX_TYPE: 'lsh', REDIS_URL: 'http://x', VECTOR_INDEX_OVERRIDES: '{bad' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(StartupError);
    const error = caught as StartupError;
    expect(error.code).toBe('invalid_config');
    for (const key of ['ES_URL', 'INDEX_SHARDS', 'VECTOR_INDEX_TYPE', 'REDIS_URL', 'VECTOR_INDEX_OVERRIDES']) {
      expect(error.message).toContain(key);
    }
    expect(error.message.split('\n')).toHaveLength(1);
  });

  it('refuses a username without a password and bad overrides', () => {
    expect(() => loadConfig({ ES_USERNAME: 'elastic' })).toThrow(/ES_USERNAME and ES_PASSWORD/);
    expect(() => loadConfig({ VECTOR_INDEX_OVERRIDES: '{"m":{"type":"lsh"}}' })).toThrow(/VECTOR_INDEX_OVERRIDES/);
    expect(() => loadConfig({ INDEX_ALIAS: 'Products!' })).toThrow(/INDEX_ALIAS/);
    expect(() => loadConfig({ MODELS: 'a,,b' })).toThrow(/MODELS/);
  });

  it('reads FETCH_HEADERS per host, and names a bad entry without echoing its value', () => {
    const config = loadConfig({ FETCH_HEADERS: '{"CDN.example.com":{"Authorization":"Bearer abc"}}' });
    expect(config.fetch.hostHeaders.for('cdn.example.com')).toEqual({ authorization: 'Bearer abc' });
    expect(config.fetch.hostHeaders.for('other.example.com')).toEqual({});
    expect(loadConfig({}).fetch.hostHeaders.hosts).toEqual([]);
    const bad = (value: string) => () => loadConfig({ FETCH_HEADERS: value });
    expect(bad('{"cdn.example.com":{"Authorization":"Bearer hunter2\\r\\nX-Evil: 1"}}')).toThrow(/FETCH_HEADERS\.cdn\.example\.com\.Authorization: the value holds a line break/);
    expect(bad('{"cdn.example.com":{"Authorization":"Bearer hunter2\\r\\nX-Evil: 1"}}')).not.toThrow(/hunter2/);
    expect(bad('{"https://cdn.example.com":{"a":"b"}}')).toThrow(/FETCH_HEADERS.*without scheme or port/);
    expect(bad('{"cdn.example.com":{"Host":"evil.example.com"}}')).toThrow(/FETCH_HEADERS\.cdn\.example\.com\.Host: this header may not be configured/);
    expect(bad('{"cdn.example.com":{"Bad Name":"x"}}')).toThrow(/not a header name/);
    expect(bad('{"cdn.example.com":"Bearer x"}')).toThrow(/FETCH_HEADERS/);
    expect(bad('not json')).toThrow(/FETCH_HEADERS: must be JSON/);
  });

  it('reads NOTIFY_*: off by default, an http(s) URL, a secret required with it', () => {
    expect(loadConfig({}).notify).toBeUndefined();
    const config = loadConfig({ NOTIFY_URL: 'https://hooks.example.com/lookalike', NOTIFY_SECRET: 'old-secret,new-secret', NOTIFY_ATTEMPTS: '5' });
    expect(config.notify).toEqual({ url: 'https://hooks.example.com/lookalike', secrets: ['old-secret', 'new-secret'], attempts: 5, backoffMs: 1_000, timeoutMs: 10_000, batchWaitMs: 50 });
    expect(() => loadConfig({ NOTIFY_URL: 'https://hooks.example.com/' })).toThrow(/NOTIFY_SECRET: required when NOTIFY_URL is set/);
    expect(() => loadConfig({ NOTIFY_URL: 'https://hooks.example.com/', NOTIFY_SECRET: ' , ' })).toThrow(/NOTIFY_SECRET: required/);
    for (const url of ['ftp://hooks.example.com/', 'file:///tmp/x', 'hooks.example.com/x']) {
      expect(() => loadConfig({ NOTIFY_URL: url, NOTIFY_SECRET: 's' })).toThrow(/invalid_config|NOTIFY_URL: must be an http or https URL/);
    }
  });

  it('reads TRUST_PROXY as Express reads trust proxy, and refuses what Express would', () => {
    expect(loadConfig({}).api.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).api.trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: 'false' }).api.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '1' }).api.trustProxy).toBe(1); // a hop count, not true
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::/8' }).api.trustProxy).toEqual(['loopback', '10.0.0.0/8', 'fd00::/8']);
    const accepted = ['2', 'uniquelocal', 'linklocal,192.168.1.7', '10.0.0.0/255.0.0.0', '::1', '2001:db8::/32'];
    const refused = ['yes', 'localhost', '10.0.0.0/33', '10.0.0.0/0', '300.1.1.1', 'loopback,,10.0.0.1', '10.0.0.0/255.0.255.0', '::1/129'];
    for (const value of accepted) expect(() => express().set('trust proxy', loadConfig({ TRUST_PROXY: value }).api.trustProxy)).not.toThrow();
    for (const value of refused) {
      expect(() => loadConfig({ TRUST_PROXY: value })).toThrow(/TRUST_PROXY/);
      // Express agrees (given the list it would have been given).
      expect(() => express().set('trust proxy', value.split(',').map((entry) => entry.trim()))).toThrow();
    }
  });
});
