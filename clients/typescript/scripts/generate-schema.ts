import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildOpenApiDocument } from '../../../api/openapi';

/**
 * Generates src/schema.d.ts, the client's types of every path, body and response, from the API's OpenAPI document as
 * the server builds it (buildOpenApiDocument, the function that serves /openapi.json). A development script: the
 * published client never imports the server. `npm run client:generate` writes the file;
 * tests/unit/clients/typescript/schema.test.ts fails while the committed file differs from what this renders.
 */

export const SCHEMA_FILE = path.join(__dirname, '..', 'src', 'schema.d.ts');
const RENDERER = path.join(__dirname, 'render-schema.mjs');

/** The text of schema.d.ts for an OpenAPI document (render-schema.mjs runs openapi-typescript in its own process). */
export function renderSchemaTypes(document: object = buildOpenApiDocument()): string {
  return execFileSync(process.execPath, [RENDERER], { input: JSON.stringify(document), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

if (require.main === module) {
  fs.writeFileSync(SCHEMA_FILE, renderSchemaTypes());
  process.stderr.write(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}\n`);
}
