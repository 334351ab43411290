import { execFileSync } from 'node:child_process';
import { buildOpenApiDocument } from '../../../api/openapi';
import { productSchema } from '../../../core/catalog';
import { REPO_ROOT } from '../../../core/embedding/manifest';
import { API_ERROR_CODES, API_ERRORS } from '../../../core/error-codes';
import { MAX_K } from '../../../core/search/search-request';
import { createResponseValidator } from '../../integration/openapi-responses';

type JsonObject = { [key: string]: any };

/** @seriousme/openapi-schema-validator is an ES module: it runs in a child process, the document on its stdin. */
function validateOpenApi(document: object): { valid: boolean; errors?: unknown } {
  const script = [
    "import { readFileSync } from 'node:fs';",
    "import { Validator } from '@seriousme/openapi-schema-validator';",
    "process.stdout.write(JSON.stringify(await new Validator().validate(JSON.parse(readFileSync(0, 'utf8')))));",
  ].join('\n');
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, input: JSON.stringify(document) }).toString());
}

/** Each response of the document that answers error codes: where it is, its status and its codes. */
function errorResponsesOf(document: JsonObject): Array<{ where: string; status: number; codes: string[] }> {
  const found: Array<{ where: string; status: number; codes: string[] }> = [];
  const collect = (where: string, status: string, response: JsonObject) => {
    const codes = response.content?.['application/json']?.schema?.properties?.error?.properties?.code?.enum as string[] | undefined;
    if (codes) found.push({ where, status: Number(status), codes });
  };
  for (const [path, operations] of Object.entries<JsonObject>(document.paths)) {
    for (const [method, operation] of Object.entries<JsonObject>(operations)) {
      for (const [status, response] of Object.entries<JsonObject>(operation.responses)) collect(`${method} ${path}`, status, response);
    }
  }
  collect('components.responses.RouteNotFound', '404', document.components.responses.RouteNotFound);
  return found;
}

describe('the OpenAPI document', () => {
  const document = buildOpenApiDocument() as JsonObject;

  it('is valid OpenAPI 3.1', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(validateOpenApi(document)).toEqual({ valid: true });
  });

  it('lists every error code the API can answer, under each status the code is answered with', () => {
    const listed = new Map<string, Set<number>>();
    for (const { where, status, codes } of errorResponsesOf(document)) {
      for (const code of codes) {
        // Nothing listed that is not registered with that status.
        expect({ where, code, status, registered: (API_ERRORS as Record<string, { status: readonly number[] }>)[code]?.status.includes(status) }).toEqual({ where, code, status, registered: true });
        listed.set(code, new Set([...(listed.get(code) ?? []), status]));
      }
    }
    for (const code of API_ERROR_CODES) expect({ code, statuses: [...(listed.get(code) ?? [])].sort() }).toEqual({ code, statuses: [...API_ERRORS[code].status] });
    const described = document.components.schemas.ErrorCode.oneOf.map((entry: { const: string }) => entry.const);
    expect(described).toEqual(API_ERROR_CODES);
  });

  it('asks for an API key with the route’s scope under /v1 and on /metrics; search routes answer 429 with Retry-After', () => {
    expect(document.components.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer', description: expect.stringContaining('`search`') }),
      apiKey: expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-API-Key' }),
    });
    const scopes: Record<string, string | undefined> = {};
    for (const [path, operations] of Object.entries<JsonObject>(document.paths)) {
      for (const [method, operation] of Object.entries<JsonObject>(operations)) {
        scopes[`${method} ${path}`] = operation.security?.[0]?.bearer?.[0];
        if (operation.security) {
          expect(operation.security).toEqual([{ bearer: [scopes[`${method} ${path}`]] }, { apiKey: [scopes[`${method} ${path}`]] }]);
          expect(operation.responses['401'].content['application/json'].schema.properties.error.properties.code.enum).toEqual(expect.arrayContaining(['api_key_missing', 'api_key_invalid']));
          // Catalog routes also refuse a key bound to other catalogs; /metrics has no catalog.
          const forbidden = path === '/metrics' || path === '/v1/catalogs' ? ['api_key_scope'] : ['api_key_scope', 'catalog_forbidden'];
          expect(operation.responses['403'].content['application/json'].schema.properties.error.properties.code.enum).toEqual(forbidden);
        }
      }
    }
    expect(scopes).toEqual({
      'post /v1/search': 'search',
      'get /v1/products/{id}/similar': 'search',
      'get /v1/catalogs': 'search',
      'post /v1/webhooks/catalog': 'webhook',
      'get /v1/products/{id}/status': 'webhook',
      'get /metrics': 'admin',
      'get /healthz': undefined,
      'get /readyz': undefined,
      'get /openapi.json': undefined,
      'get /docs': undefined,
      'get /': undefined,
    });
    for (const operation of [document.paths['/v1/search'].post, document.paths['/v1/products/{id}/similar'].get]) {
      expect(operation.responses['429']).toMatchObject({ headers: { 'Retry-After': { required: true, schema: { type: 'integer' } } } });
      expect(operation.responses['429'].content['application/json'].schema.properties.error.properties.code.enum).toEqual(['rate_limited']);
    }
    expect(document.paths['/v1/webhooks/catalog'].post.responses['429']).toBeUndefined();
  });

  it('takes request schemas from the zod schemas that validate the requests, with their descriptions', () => {
    const { schemas } = document.components;
    expect(Object.keys(schemas.Product.properties)).toEqual(Object.keys(productSchema.shape));
    expect(schemas.Product.required).toEqual(['id', 'image_url']);
    expect(schemas.SearchRequest.properties.k).toEqual({ default: 10, type: 'integer', minimum: 1, maximum: MAX_K, description: 'How many results' });
    expect(schemas.SearchRequest.properties.filters).toEqual({ $ref: '#/components/schemas/Filters' });
    expect(schemas.Filters.description).toMatch(/every result satisfies every filter/);
    expect(schemas.EventBatch.properties.events).toMatchObject({ minItems: 1, maxItems: 500, items: { $ref: '#/components/schemas/Event' } });
    const similar = document.paths['/v1/products/{id}/similar'].get.parameters as JsonObject[];
    expect(similar.find((p) => p.name === 'filters')).toEqual({ name: 'filters', in: 'query', description: 'The filters, as JSON', content: { 'application/json': { schema: { $ref: '#/components/schemas/Filters' } } } });
    expect(similar.find((p) => p.name === 'k')).toMatchObject({ in: 'query', schema: { type: 'integer', maximum: MAX_K } });
    expect(schemas.ProductStatus.properties.last_ignored.anyOf).toContainEqual(
      expect.objectContaining({ required: ['event_id', 'version', 'reason'], properties: expect.objectContaining({ reason: expect.objectContaining({ enum: ['stale', 'tombstoned'] }) }) }),
    );
  });

  it('has a schema ajv compiles (strict, JSON Schema 2020-12) for every response', () => {
    const validate = createResponseValidator(document);
    const headers = { get: (name: string) => (name === 'content-type' ? 'application/json' : 'id') };
    for (const [path, operations] of Object.entries<JsonObject>(document.paths)) {
      for (const [method, operation] of Object.entries<JsonObject>(operations)) {
        for (const status of Object.keys(operation.responses)) {
          const url = `http://api${path.replace('{id}', 'sku-1')}`;
          expect(() => validate({ method, url, status: Number(status), headers, body: '{}' })).not.toThrow();
        }
      }
    }
  });

  it('is the same document every time', () => {
    expect(JSON.stringify(buildOpenApiDocument())).toBe(JSON.stringify(document));
  });
});
