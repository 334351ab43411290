import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/**
 * Checks an API response against the OpenAPI document: the operation (method + path template) must be listed, the
 * status among its responses, the required headers present, the content type one it lists, and a JSON body valid
 * against its schema (ajv, JSON Schema 2020-12: OpenAPI 3.1's dialect). A path or method the document does not list
 * may only answer its `RouteNotFound` response.
 */

export interface ObservedResponse {
  method: string;
  url: string;
  status: number;
  headers: { get(name: string): string | null };
  body: string;
}

type JsonObject = { [key: string]: unknown };
type Operation = { responses: Record<string, JsonObject> };

const DOCUMENT_ID = 'lookalike:openapi';

const pointer = (...segments: string[]) => segments.map((s) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

/** Returns a function that lists what is wrong with a response (nothing when it is as documented). */
export function createResponseValidator(document: JsonObject): (response: ObservedResponse) => string[] {
  const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
  addFormats(ajv);
  // The document is not a schema itself; its schemas are compiled one by one through JSON pointers into it.
  for (const keyword of ['openapi', 'info', 'paths', 'components']) ajv.addKeyword({ keyword });
  ajv.addSchema({ ...document, $id: DOCUMENT_ID });
  const paths = document.paths as Record<string, Record<string, Operation>>;
  const components = document.components as { responses: Record<string, JsonObject>; headers: Record<string, JsonObject> };
  const templates = Object.keys(paths)
    .map((template) => ({ template, pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`), params: (template.match(/\{/g) ?? []).length }))
    .sort((a, b) => a.params - b.params);
  const compiled = new Map<string, ValidateFunction>();
  const schemaAt = (location: string): ValidateFunction => {
    let validate = compiled.get(location);
    if (!validate) {
      validate = ajv.getSchema(`${DOCUMENT_ID}#/${location}`);
      if (!validate) throw new Error(`no schema at ${location}`);
      compiled.set(location, validate);
    }
    return validate;
  };
  const resolve = (node: JsonObject): JsonObject => {
    const target = node.$ref as string | undefined;
    if (!target) return node;
    const [, kind, name] = /^#\/components\/(responses|headers)\/(.+)$/.exec(target) ?? [];
    const found = kind && name ? components[kind as 'responses' | 'headers'][name] : undefined;
    if (!found) throw new Error(`cannot resolve ${target}`);
    return found;
  };

  return (response) => {
    const path = new URL(response.url).pathname;
    const method = response.method.toLowerCase();
    const where = `${response.method.toUpperCase()} ${path} → ${response.status}`;
    const template = templates.find((t) => t.pattern.test(path))?.template;
    const operation = template ? paths[template]?.[method] : undefined;
    let documented: JsonObject | undefined;
    let location: string[];
    if (operation && template) {
      documented = operation.responses[String(response.status)];
      location = ['paths', template, method, 'responses', String(response.status)];
      if (!documented) return [`${where}: the document lists no ${response.status} response for ${method.toUpperCase()} ${template}`];
    } else {
      documented = components.responses.RouteNotFound;
      location = ['components', 'responses', 'RouteNotFound'];
      if (response.status !== 404) return [`${where}: the document lists no ${method.toUpperCase()} operation for this path`];
    }
    const problems: string[] = [];
    const declared = resolve(documented!);
    for (const [name, header] of Object.entries((declared.headers ?? {}) as Record<string, JsonObject>)) {
      if (resolve(header).required && response.headers.get(name) === null) problems.push(`${where}: header ${name} is missing`);
    }
    const content = declared.content as Record<string, JsonObject> | undefined;
    if (!content) return problems;
    const type = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
    if (!content[type]) return [...problems, `${where}: content type "${type}" is not one of ${Object.keys(content).join(', ')}`];
    let body: unknown = response.body;
    if (type === 'application/json') {
      try {
        body = JSON.parse(response.body);
      } catch {
        return [...problems, `${where}: the body is not JSON`];
      }
    }
    const validate = schemaAt(pointer(...location, 'content', type, 'schema'));
    if (!validate(body)) {
      const errors = (validate.errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message}${e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''}`);
      problems.push(`${where}: the body does not match the document: ${errors.join('; ')}\n  body: ${response.body.slice(0, 500)}`);
    }
    return problems;
  };
}
