import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const root = path.resolve(__dirname, '..', '..', '..');
const compose = parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, { image?: string; command?: string[]; environment?: Record<string, string>; profiles?: string[]; deploy?: unknown; build?: { target: string } }>;
};
const servicesScript = ['services.sh', 'services-redis.sh'].map((file) => fs.readFileSync(path.join(root, 'scripts', file), 'utf8')).join('\n');
const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');

describe('docker-compose.yml stays consistent with the development scripts', () => {
  it('runs the same Elasticsearch version as scripts/services.sh, with the same safety settings', () => {
    const version = /^ES_VERSION=(\S+)$/m.exec(servicesScript)?.[1];
    expect(version).toBeDefined();
    const es = compose.services.elasticsearch!;
    expect(es.image).toBe(`docker.elastic.co/elasticsearch/elasticsearch:${version}`);
    expect(es.environment).toMatchObject({ 'discovery.type': 'single-node', 'action.auto_create_index': 'false' });
    expect(servicesScript).toContain('action.auto_create_index: false');
  });

  it('runs Redis with noeviction and AOF', () => {
    const command = compose.services.redis!.command!.join(' ');
    expect(command).toContain('--maxmemory-policy noeviction');
    expect(command).toContain('--appendonly yes');
    expect(servicesScript).toContain('--maxmemory-policy noeviction');
  });

  it('builds api and indexer from one Dockerfile, non-root, with a gpu profile for the indexer', () => {
    expect(compose.services.api!.build!.target).toBe('runtime');
    expect(compose.services.indexer!.build!.target).toBe('runtime');
    const gpu = compose.services['indexer-gpu']!;
    expect(gpu.profiles).toEqual(['gpu']);
    expect(gpu.build!.target).toBe('runtime-gpu');
    expect(JSON.stringify(gpu.deploy)).toContain('"driver":"nvidia"');
    expect(gpu.environment!.ONNX_EXECUTION_PROVIDER).toBe('cuda');
    expect(dockerfile.match(/^USER lookalike$/gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/npm run build/);
    for (const service of ['api', 'indexer', 'indexer-gpu']) {
      const command = compose.services[service]!.command!;
      expect(command[0]).toBe('node');
      expect(command.at(-1)).toMatch(/^dist\/(api|indexer)\/main\.js$/);
    }
    // The API runs as `npm run api` does (docs/search.md says why), in compose and in the image.
    const api = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).scripts.api as string;
    expect(api).toBe(`node ${compose.services.api!.command!.slice(1).join(' ')}`);
    expect(dockerfile).toContain(`CMD ${JSON.stringify(compose.services.api!.command).replace(/,/g, ', ')}`);
  });
});
