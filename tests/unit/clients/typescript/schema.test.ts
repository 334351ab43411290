import fs from 'node:fs';
import path from 'node:path';
import { renderSchemaTypes, SCHEMA_FILE } from '../../../../clients/typescript/scripts/generate-schema';

const CLIENT_DIR = path.join(__dirname, '..', '..', '..', '..', 'clients', 'typescript');

describe('the TypeScript client', () => {
  it('has the types of the OpenAPI document the server builds now (npm run client:generate rewrites them)', async () => {
    const committed = fs.readFileSync(SCHEMA_FILE, 'utf8');
    const current = renderSchemaTypes();
    if (committed !== current) {
      throw new Error(`${path.relative(process.cwd(), SCHEMA_FILE)} differs from the API's OpenAPI document: run \`npm run client:generate\` and commit the result`);
    }
  }, 60_000);

  it('imports only its own files and its declared dependencies, never the server', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(CLIENT_DIR, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const sourceDir = path.join(CLIENT_DIR, 'src');
    const problems: string[] = [];
    for (const file of fs.readdirSync(sourceDir).filter((name) => name.endsWith('.ts'))) {
      const text = fs.readFileSync(path.join(sourceDir, file), 'utf8');
      for (const [, specifier] of text.matchAll(/(?:from|import|require\()\s*['"]([^'"]+)['"]/g)) {
        if (specifier!.startsWith('.')) {
          const target = path.resolve(sourceDir, specifier!);
          if (path.dirname(target) !== sourceDir) problems.push(`${file} imports ${specifier} (outside src/)`);
        } else if (!(specifier! in manifest.dependencies)) {
          problems.push(`${file} imports ${specifier}, which package.json does not list under dependencies`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
