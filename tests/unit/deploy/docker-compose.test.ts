import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../../core/config';
import { parseServiceScript, serviceCommand } from '../../../scripts/service-command';

const root = path.resolve(__dirname, '..', '..', '..');
interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  profiles?: string[];
  deploy?: { replicas?: number | string };
  build?: { target: string };
  volumes?: string[];
  expose?: string[];
  depends_on?: Record<string, unknown> | string[];
  stop_grace_period?: string;
}
// `merge`: the file shares settings through YAML merge keys (`<<: *anchor`), as docker-compose reads them.
const compose = parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const prometheus = parse(fs.readFileSync(path.join(root, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8')) as {
  scrape_configs: { job_name: string; dns_sd_configs?: { names: string[]; type: string; port: number }[]; static_configs?: { targets: string[] }[] }[];
};
const proxyBackend = fs.readFileSync(path.join(root, 'deploy', 'haproxy', 'compose.cfg'), 'utf8');

/** The value docker-compose gives `${NAME:-default}` when NAME is unset; a plain value as it is. */
const unsetValue = (value: string | number | undefined): string | undefined =>
  value === undefined ? undefined : (/^\$\{\w+:-([^}]*)\}$/.exec(String(value))?.[1] ?? String(value));
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

  it('gives the API and the indexers longer than their shutdown deadline to stop before Docker kills them', () => {
    const deadlineMs = loadConfig({}).worker.shutdownTimeoutMs;
    const apps = Object.entries(compose.services).filter(([, service]) => /dist\/(api|indexer)\/main\.js/.test((service.command ?? []).join(' ')));
    expect(apps.map(([name]) => name).sort()).toEqual(['api', 'cluster-api', 'cluster-indexer', 'indexer', 'indexer-gpu']);
    for (const [name, service] of apps) {
      const seconds = Number(/^(\d+)s$/.exec(service.stop_grace_period ?? '')?.[1]);
      expect({ name, outlasts: seconds * 1000 > deadlineMs }).toEqual({ name, outlasts: true });
    }
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
    // The API and the indexer run as `npm run api` and `npm run indexer` do (docs/search.md says why), in compose and
    // in the image: the same flags, and the script's malloc settings in every runtime stage's environment.
    expect(dockerfile).toContain(`CMD ${JSON.stringify(compose.services.api!.command).replace(/,/g, ', ')}`);
    const runtimeStages = dockerfile.split(/^FROM /m).filter((stage) => /^\S+ AS runtime/.test(stage));
    expect(runtimeStages).toHaveLength(2);
    for (const service of ['api', 'indexer'] as const) {
      const script = serviceCommand(service);
      expect(script.args.map((arg) => path.relative(root, arg))).toEqual(compose.services[service]!.command!.slice(1));
      expect(Object.keys(script.env).length).toBeGreaterThan(0);
      for (const [name, value] of Object.entries(script.env)) for (const stage of runtimeStages) expect(stage).toMatch(new RegExp(`^ENV .*\\b${name}=${value}\\b`, 'm'));
    }
  });
});

describe('docker-compose.yml: the cluster profile', () => {
  const cluster = Object.entries(compose.services).filter(([, service]) => service.profiles?.includes('cluster'));
  const nodes = ['es-1', 'es-2', 'es-3'];

  it('leaves the single-box default alone: no default service belongs to a profile or talks to the cluster', () => {
    for (const name of ['elasticsearch', 'redis', 'api', 'indexer']) {
      expect(compose.services[name]!.profiles).toBeUndefined();
      expect(compose.services[name]!.environment?.ES_URL ?? 'http://elasticsearch:9200').toBe('http://elasticsearch:9200');
    }
  });

  it('runs three Elasticsearch nodes of the same image as one cluster, each with its own data', () => {
    const single = compose.services.elasticsearch!;
    const volumes = new Set<string>();
    for (const name of nodes) {
      const node = compose.services[name]!;
      expect(node.profiles).toEqual(['cluster']);
      expect(node.image).toBe(single.image);
      const environment = node.environment!;
      expect(environment['discovery.type']).toBeUndefined();
      expect(environment['node.name']).toBe(name);
      expect(environment['cluster.name']).toBe(compose.services['es-1']!.environment!['cluster.name']);
      expect(environment['discovery.seed_hosts']!.split(',')).toEqual(nodes);
      expect(environment['cluster.initial_master_nodes']!.split(',')).toEqual(nodes);
      // The same safety settings as the single node.
      for (const key of ['action.auto_create_index', 'xpack.security.enabled', 'ES_JAVA_OPTS']) expect(environment[key]).toBe(single.environment![key]);
      volumes.add(node.volumes![0]!.split(':')[0]!);
    }
    expect(volumes.size).toBe(3);
  });

  it('runs replicated APIs and indexers that know every node and lay the index out with replicas', () => {
    for (const name of ['cluster-api', 'cluster-indexer']) {
      const service = compose.services[name]!;
      expect(Number(unsetValue(service.deploy?.replicas))).toBeGreaterThanOrEqual(2);
      expect(service.environment!.ES_URL!.split(',')).toEqual(nodes.map((node) => `http://${node}:9200`));
      expect(Number(unsetValue(service.environment!.INDEX_REPLICAS))).toBeGreaterThanOrEqual(1);
      expect(Object.keys(service.depends_on!)).toEqual(expect.arrayContaining([...nodes, 'redis']));
      expect(service.command).toEqual(compose.services[name.replace('cluster-', '')]!.command);
    }
  });

  it('puts the proxy in front of every API replica, with the proxy definition the tests run', () => {
    const proxy = compose.services.proxy!;
    expect(proxy.volumes).toContain('./deploy/haproxy:/usr/local/etc/haproxy:ro');
    expect(proxy.command!.filter((argument) => argument.endsWith('.cfg'))).toEqual(['/usr/local/etc/haproxy/haproxy.cfg', '/usr/local/etc/haproxy/compose.cfg']);
    const port = compose.services['cluster-api']!.environment!.API_PORT;
    expect(proxyBackend).toMatch(new RegExp(`^\\s*server-template \\S+ \\S+ cluster-api:${port} resolvers docker`, 'm'));
    expect(fs.readFileSync(path.join(root, 'tests', 'integration', 'api-proxy.test.ts'), 'utf8')).toContain("'deploy', 'haproxy', 'haproxy.cfg'");
  });

  it('has Prometheus scrape every replica of the API and the indexer, and every other process', () => {
    const dnsTarget = (service: string) => prometheus.scrape_configs.flatMap((job) => job.dns_sd_configs ?? []).find((config) => config.names.includes(service));
    const api = compose.services['cluster-api']!;
    expect(dnsTarget('cluster-api')).toMatchObject({ type: 'A', port: Number(api.environment!.API_PORT) });
    const indexer = compose.services['cluster-indexer']!;
    // The indexer's /metrics listens on 127.0.0.1 by default: in a container it must listen on the network.
    expect(indexer.environment!.INDEXER_HOST).toBe('0.0.0.0');
    expect(dnsTarget('cluster-indexer')).toMatchObject({ type: 'A', port: Number(indexer.environment!.INDEXER_PORT) });
    const statics = prometheus.scrape_configs.flatMap((job) => job.static_configs ?? []).flatMap((config) => config.targets).map((target) => target.split(':')[0]);
    for (const host of statics) if (host !== 'localhost') expect(cluster.map(([name]) => name)).toContain(host);
    // Every process of the profile is scraped: directly, through the exporter that reads it, or itself (localhost).
    const scraped = new Set([...statics, 'cluster-api', 'cluster-indexer', ...nodes, 'redis', 'prometheus']);
    for (const [name] of cluster) expect(scraped).toContain(name);
    expect(compose.services.prometheus!.volumes).toContain('./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
  });
});

describe('parseServiceScript', () => {
  it('splits an npm script into its environment, Node flags and entry file', () => {
    expect(parseServiceScript('A_B=1 C= node --flag x/main.js', '/app')).toEqual({ env: { A_B: '1', C: '' }, args: ['--flag', '/app/x/main.js'] });
    expect(parseServiceScript('node dist/indexer/main.js', '/app')).toEqual({ env: {}, args: ['/app/dist/indexer/main.js'] });
  });

  it('refuses a script that is not a node command', () => {
    expect(() => parseServiceScript('tsx api/main.ts', '/app')).toThrow(/not a/);
    expect(() => parseServiceScript('X=1 node', '/app')).toThrow(/not a/);
  });
});
