import { buildOpenApiDocument } from '../../api/openapi';
import { createResponseValidator } from './openapi-responses';

/**
 * Every API response an integration test receives through fetch is checked against the OpenAPI document; a response
 * that does not match fails the test it arrived in. API responses are told apart by their X-Request-Id header (the
 * API's first middleware sets it on every response; the image servers of the tests and Elasticsearch do not).
 */
const validate = createResponseValidator(buildOpenApiDocument());
const problems: string[] = [];
const fetchWithoutChecks = globalThis.fetch;

globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const response = await fetchWithoutChecks(input, init);
  if (response.headers.has('x-request-id')) {
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const url = input instanceof Request ? input.url : String(input);
    problems.push(...validate({ method, url, status: response.status, headers: response.headers, body: await response.clone().text() }));
  }
  return response;
};

const failOnProblems = () => {
  if (problems.length > 0) throw new Error(`API responses that do not match the OpenAPI document:\n${problems.splice(0).join('\n')}`);
};
afterEach(failOnProblems);
afterAll(failOnProblems);
