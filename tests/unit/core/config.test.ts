import { loadConfig, vectorOptionsFor } from '../../../core/config';
import { StartupError } from '../../../core/errors';

describe('loadConfig', () => {
  it('has working defaults for a developer machine', () => {
    const config = loadConfig({});
    expect(config.elasticsearch.url).toBe('http://127.0.0.1:9200');
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.index.alias).toBe('products');
    expect(config.vectors.defaults).toEqual({ type: 'int8_hnsw', m: 16, efConstruction: 100, oversample: 3 });
    expect(config.models.ids).toEqual(['efficientnet-lite0', 'colour-texture']);
    expect(config.elasticsearch.auth).toBeUndefined();
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
    expect(vectorOptionsFor(config, 'colour-texture', { type: 'bbq_hnsw', m: 32 })).toEqual({ type: 'flat', m: 32, efConstruction: 100, oversample: 3 });
    expect(config.models.ids).toEqual(['colour-texture']);
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
});
