// Renders an OpenAPI document (JSON on stdin) as the client's schema.d.ts (on stdout), with openapi-typescript.
// A separate ES module run by node: openapi-typescript needs ES modules that jest's CommonJS runtime cannot load, so
// generate-schema.ts (used by `npm run client:generate` and the test that keeps the types in sync) runs this instead.
import { Buffer } from 'node:buffer';
import process from 'node:process';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const nodes = await openapiTS(JSON.parse(Buffer.concat(chunks).toString('utf8')), {
  silent: true,
  // Request fields with a default (k, mode, crop…) are optional to send; openapi-typescript's default would make them
  // required. Response schemas are zod's output side, where a field always present is already required.
  defaultNonNullable: false,
});
process.stdout.write(`${COMMENT_HEADER}${astToString(nodes)}`);
