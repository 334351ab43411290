import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Services of a test's own, started and stopped with scripts/services.sh (the script that drops root for
 * Elasticsearch): a multi-node Elasticsearch cluster and a Redis primary + replica + Sentinels, each on its own ports
 * and in its own temporary directory, so that they never touch the shared development services.
 */

const root = path.resolve(__dirname, '..', '..');
const script = path.join(root, 'scripts', 'services.sh');

/** Runs services.sh with `env` (on top of the test's environment, without the shared services' URLs). */
export function services(args: string[], env: Record<string, string>, timeoutMs = 300_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, ...args], { env: { ...process.env, ES_URL: '', REDIS_URL: '', REDIS_SENTINELS: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      if (status === 0) resolve(output);
      else reject(new Error(`services.sh ${args.join(' ')} failed (${status ?? signal}): ${output.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

/** The Elasticsearch version scripts/services.sh runs, and whether its distribution is on this machine. */
export function elasticsearchDistribution(): { version: string; present: boolean; where: string } {
  const version = /^ES_VERSION=(\S+)$/m.exec(fs.readFileSync(script, 'utf8'))![1]!;
  const zip = path.join(process.env.MAVEN_REPO ?? path.join(os.homedir(), '.m2', 'repository'), 'org', 'elasticsearch', 'distribution', 'integ-test-zip', 'elasticsearch', version, `elasticsearch-${version}.zip`);
  const unpacked = [path.join(process.env.LOOKALIKE_CACHE_DIR ?? path.join(root, '.cache'), 'elasticsearch'), '/var/lib/lookalike/elasticsearch'].map((base) => path.join(base, `elasticsearch-${version}`, 'bin', 'elasticsearch'));
  const found = [zip, ...unpacked].find((file) => fs.existsSync(file));
  return { version, present: found !== undefined, where: found ?? zip };
}

export interface EsCluster {
  /** Every node's URL, comma-separated, as ES_URL takes them. */
  url: string;
  nodeUrl(node: number): string;
  /** The node (1-based) that is the elected master now. */
  masterNode(): Promise<number>;
  /** SIGKILL one node (1-based). */
  kill(node: number): void;
  /** Starts again whatever node is down, and waits for every node to be back. */
  restart(): Promise<void>;
  /** Waits for the cluster to be green with every node in it. */
  waitForGreen(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts an Elasticsearch cluster of `nodes` nodes on HTTP ports `httpPort`… and transport ports `transportPort`…. */
export async function startEsCluster(options: { nodes: number; httpPort: number; transportPort: number; heap?: string }): Promise<EsCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-es-cluster-'));
  const env = {
    ES_NODES: String(options.nodes),
    ES_PORT: String(options.httpPort),
    ES_TRANSPORT_PORT: String(options.transportPort),
    ES_HEAP: options.heap ?? '512m',
    ES_CLUSTER_DIR: dir,
    // The JIT's first tier only: half the CPU time to start a node (which is most of what these tests cost on two
    // cores), at the price of slower searches, which the failure tests do not measure.
    ES_JAVA_OPTS: `${process.env.ES_JAVA_OPTS ?? ''} -XX:TieredStopAtLevel=1`.trim(),
  };
  const nodeUrl = (node: number) => `http://127.0.0.1:${options.httpPort + node - 1}`;
  const url = Array.from({ length: options.nodes }, (_, i) => nodeUrl(i + 1)).join(',');
  const pidOf = (node: number) => Number(fs.readFileSync(path.join(dir, `node-${node}`, 'es.pid'), 'utf8').trim());
  const stop = async () => {
    try {
      await services(['down', 'elasticsearch'], env);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    await services(['up', 'elasticsearch'], env);
  } catch (error) {
    await stop();
    throw error;
  }
  const health = async (query: string) => {
    for (let node = 1; node <= options.nodes; node++) {
      try {
        const response = await fetch(`${nodeUrl(node)}/_cluster/health?${query}`, { signal: AbortSignal.timeout(70_000) });
        if (response.ok) return (await response.json()) as { status: string; number_of_nodes: number };
      } catch {
        // that node is down: ask the next
      }
    }
    return null;
  };
  return {
    url,
    nodeUrl,
    async masterNode() {
      for (let node = 1; node <= options.nodes; node++) {
        const response = await fetch(`${nodeUrl(node)}/_cat/master?h=node`).catch(() => null);
        const name = response?.ok ? (await response.text()).trim() : '';
        if (name) return Number(name.slice(name.lastIndexOf('-') + 1));
      }
      throw new Error('no node names an elected master');
    },
    kill(node) {
      process.kill(pidOf(node), 'SIGKILL');
    },
    async restart() {
      await services(['up', 'elasticsearch'], env);
    },
    async waitForGreen(timeoutMs = 120_000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        const answer = await health(`wait_for_status=green&wait_for_nodes=${options.nodes}&timeout=10s`);
        if (answer?.status === 'green' && answer.number_of_nodes === options.nodes) return;
        await sleep(500);
      }
      throw new Error(`the cluster did not return to green with ${options.nodes} nodes in ${timeoutMs} ms`);
    },
    stop,
  };
}
