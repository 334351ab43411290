import { buildIndexBody, compareMapping, denseVectorMapping, modelFieldsMapping } from '../../../../core/search/catalog-mapping';
import { loadConfig } from '../../../../core/config';

const options = { type: 'int8_hnsw' as const, m: 16, efConstruction: 100, oversample: 3 };

describe('catalog mapping', () => {
  it('maps each index type with the options it accepts', () => {
    expect(denseVectorMapping({ modelId: 'a', dims: 8, index: options })).toEqual({
      type: 'dense_vector', dims: 8, index: true, similarity: 'cosine',
      index_options: { type: 'int8_hnsw', m: 16, ef_construction: 100, rescore_vector: { oversample: 3 } },
    });
    expect(denseVectorMapping({ modelId: 'a', dims: 8, index: { ...options, type: 'hnsw' } }).index_options).toEqual({ type: 'hnsw', m: 16, ef_construction: 100 });
    expect(denseVectorMapping({ modelId: 'a', dims: 8, index: { ...options, type: 'flat' } }).index_options).toEqual({ type: 'flat' });
    expect(denseVectorMapping({ modelId: 'a', dims: 8, index: { ...options, type: 'bbq_hnsw', oversample: 0 } }).index_options).toEqual({ type: 'bbq_hnsw', m: 16, ef_construction: 100 });
  });

  it('refuses bad model ids and dims', () => {
    expect(() => denseVectorMapping({ modelId: 'Bad.Id', dims: 8, index: options })).toThrow(/model id/);
    expect(() => denseVectorMapping({ modelId: 'a', dims: 0, index: options })).toThrow(/dims/);
    expect(() => denseVectorMapping({ modelId: 'a', dims: 7, index: { ...options, type: 'int4_hnsw' } })).toThrow(/even/);
  });

  it('builds the index body from the file, the config and the models', () => {
    const config = loadConfig({ INDEX_SHARDS: '2', INDEX_REFRESH_INTERVAL: '5s' });
    const body = buildIndexBody(config.index, [{ modelId: 'm1', dims: 4, index: options }]);
    expect(body.settings.index).toMatchObject({ number_of_shards: 2, refresh_interval: '5s' });
    const properties = body.mappings.properties as Record<string, { properties: Record<string, unknown> }>;
    expect(properties.vectors!.properties.m1).toMatchObject({ type: 'dense_vector', dims: 4 });
    expect(properties.embeddings!.properties.m1).toBeDefined();
    expect(body.mappings.dynamic).toBe('strict');
  });

  it('compares a live mapping: mismatched dims, missing models, wrong base types', () => {
    const config = loadConfig({});
    const live = buildIndexBody(config.index, [{ modelId: 'm1', dims: 4, index: options }]).mappings;
    expect(compareMapping(live, [{ modelId: 'm1', dims: 4, index: options }])).toEqual({ problems: [], missingModels: [], missingFields: {} });
    const mismatch = compareMapping(live, [{ modelId: 'm1', dims: 8, index: options }, { modelId: 'm2', dims: 2, index: options }]);
    expect(mismatch.problems).toEqual(['vectors.m1 has 4 dims but model m1 outputs 8']);
    expect(mismatch.missingModels.map((m) => m.modelId)).toEqual(['m2']);
    const broken = structuredClone(live) as { properties: Record<string, Record<string, unknown>> };
    broken.properties.price = { type: 'keyword' };
    delete broken.properties.sizes;
    expect(compareMapping(broken, []).problems).toEqual(['field "price" is keyword, expected double']);
    // A base field a newer release added (catalog) is not a disagreement: it is added in place.
    expect(compareMapping(broken, []).missingFields).toEqual({ sizes: { type: 'keyword', ignore_above: 64 } });
  });

  it('adds one model as a mapping delta', () => {
    const delta = modelFieldsMapping({ modelId: 'm3', dims: 6, index: options }) as { properties: Record<string, { properties: Record<string, unknown> }> };
    expect(Object.keys(delta.properties.vectors!.properties)).toEqual(['m3']);
  });
});
