/**
 * `npm run bench:load -- --scenario <name> [--url <base>] [--rate <n>] [--duration <d>]`: the k6 load suite
 * (benchmarks/k6/) against a running API, or against a demo stack it starts itself (scripts/demo-stack.ts: its own
 * alias and ports, rate limiting off). Installs k6 when missing (scripts/install-k6.sh), prepares the photo pools and
 * the product export under .cache/load/, runs k6, and writes benchmarks/results/load-<scenario>.md + .json (smoke:
 * .cache/load/results/). Exit status: 0, 99 when a k6 threshold failed (or the knee finder found no knee), 1 on
 * any other failure. docs/load.md describes the scenarios and the method.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../core/config';
import { createRedisConnection } from '../core/redis';
import { createElasticsearchClient } from '../core/search/elasticsearch';
import { DEMO_DIR, startDemoStack, type DemoStack } from '../scripts/demo-stack';
import { parseLoadArgs, type LoadArgs } from './lib/load-args';
import { exportProducts, preparePhotoPools } from './lib/load-inputs';
import { ensureK6, stopK6, THRESHOLDS_FAILED } from './lib/load-k6';
import { elasticsearchPid, loadAverage } from './lib/load-proc';
import { runScenario, type ScenarioContext } from './lib/load-scenarios';
import { RESULTS_DIR } from './lib/report';

const root = path.resolve(__dirname, '..');
const workDir = path.join(root, '.cache', 'load');
/** The services as the stack's processes see them (ES_URL, REDIS_URL or the Sentinels). */
const services = loadConfig(process.env);
const esUrlDefault = services.elasticsearch.nodes[0]!;

/** The webhook secret: --webhook-secret, the started stack's, or the one `npm run demo` uses. */
function webhookSecret(args: LoadArgs, stack: DemoStack | null): string {
  const secret = args['webhook-secret'] ?? stack?.secret ?? (fs.existsSync(path.join(DEMO_DIR, 'webhook-secret')) ? fs.readFileSync(path.join(DEMO_DIR, 'webhook-secret'), 'utf8').trim() : '');
  if (!secret && ['smoke', 'webhook', 'mixed'].includes(args.scenario)) throw new Error(`the ${args.scenario} scenario signs webhooks: give --webhook-secret`);
  return secret;
}

/** Deletes what the started stack left: its index versions and its Redis keys (queues, statuses, dedup). */
async function dropStackData(alias: string, queuePrefix: string): Promise<void> {
  const es = createElasticsearchClient(services.elasticsearch);
  try {
    for (const index of Object.keys(await es.indices.get({ index: `${alias}-v*` }).catch(() => ({})))) await es.indices.delete({ index });
  } finally {
    await es.close();
  }
  const redis = createRedisConnection(services.redis, 'worker');
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${queuePrefix}:*`, 'COUNT', 500);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const args = parseLoadArgs(argv);
  const command = `npm run bench:load -- ${argv.join(' ')}`;
  const resultsDir = args.results ? path.resolve(args.results) : args.scenario === 'smoke' ? path.join(workDir, 'results') : RESULTS_DIR;
  const loadBefore = loadAverage();
  if (loadBefore > os.cpus().length * 1.5) process.stderr.write(`bench:load: warning: the load average is ${loadBefore} on ${os.cpus().length} cores before the run: other work will show in the results\n`);

  const k6 = await ensureK6();
  const pools = await preparePhotoPools(workDir);
  let stack: DemoStack | null = null;
  let stopping = false;
  const cleanUp = async () => {
    stopK6();
    await stack?.stop();
    if (stack && args['drop-index']) {
      await dropStackData(stack.alias, stack.queuePrefix);
      fs.rmSync(path.join(workDir, `products-${stack.alias}.json`), { force: true });
    }
  };
  const interrupt = () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write('bench:load: interrupted, stopping\n');
    void cleanUp().finally(() => process.exit(130));
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  // The smoke run checks that every kind of request works, not admission: a wait of 2 s for a search slot keeps a busy
  // CI machine's stall from failing it with a 503 (the admission defaults are measured by the overload scenario).
  const stackEnv: Record<string, string> = { RATE_LIMIT_PER_S: '0', ...(args.scenario === 'smoke' ? { SEARCH_QUEUE_WAIT_MS: '2000' } : {}) };
  try {
    if (!args.url) {
      const alias = args.alias ?? 'load-demo-products';
      stack = await startDemoStack({
        perCategory: args['per-category'] ?? Number(process.env.DEMO_PER_CATEGORY ?? 200),
        alias,
        queuePrefix: alias,
        apiPort: args['api-port'],
        imagePort: args['image-port'],
        indexerPort: args['indexer-port'],
        env: stackEnv,
      });
      void stack.exited.then((line) => {
        process.stderr.write(`bench:load: ${line}\n`);
        stopK6();
      });
      await stack.indexCatalog();
    }
    const alias = stack?.alias ?? args.alias ?? 'demo-products';
    const productsFile = path.join(workDir, `products-${alias}.json`);
    const exported = await exportProducts(args['es-url'] ?? esUrlDefault, alias, productsFile);
    const apiPid = stack?.pids.api ?? args['api-pid'];
    const esPid = stack || args['api-pid'] ? elasticsearchPid(path.join(root, '.cache')) : null;
    const context: ScenarioContext = {
      args,
      command,
      k6,
      cores: os.cpus().length,
      resultsDir,
      summaryFile: (name) => path.join(workDir, 'summaries', `${name}.json`),
      pools,
      pids: { ...(apiPid ? { api: apiPid } : {}), ...(esPid ? { elasticsearch: esPid } : {}), ...(stack ? { indexer: stack.pids.indexer } : {}) },
      env: {
        BASE_URL: args.url ?? stack!.api,
        WEBHOOK_SECRET: webhookSecret(args, stack),
        API_KEY: args['api-key'] ?? '',
        RUN_ID: Date.now().toString(36),
        PRODUCTS: productsFile,
      },
      stackNote: stack
        ? `a demo stack started for the run (${stack.catalog.length} products, alias \`${stack.alias}\`, ${Object.entries(stackEnv).map(([name, value]) => `${name}=${value}`).join(', ')}; the API, the indexer and Elasticsearch on the same machine as k6)`
        : `the API at ${args.url} (index alias \`${alias}\`)`,
      loadBefore,
      exportedProducts: exported,
    };
    const passed = await runScenario(context);
    return passed ? 0 : THRESHOLDS_FAILED;
  } finally {
    if (!stopping) await cleanUp();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench:load: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
