import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { testConfig, testDeps, testModel } from './helpers';

const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'bin', 'lookalike.js');

/** Runs the built CLI and returns its exit status and stderr lines. */
function run(args: string[], env: Record<string, string>): { status: number | null; lines: string[]; stdout: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { env: { ...process.env, LOG_LEVEL: 'silent', ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, lines: result.stderr.trim().split('\n').filter(Boolean), stdout: result.stdout };
}

describe('bad configuration stops the process with one line and a non-zero exit', () => {
  it('an invalid variable', () => {
    const { status, lines } = run(['index', 'status'], { INDEX_SHARDS: 'many' });
    expect(status).toBe(1);
    expect(lines).toEqual([expect.stringMatching(/^lookalike: invalid_config: invalid configuration: INDEX_SHARDS: /)]);
  });

  it('an unreachable Elasticsearch', () => {
    const { status, lines } = run(['index', 'status'], { ES_URL: 'http://127.0.0.1:1' });
    expect(status).toBe(1);
    expect(lines).toEqual([expect.stringMatching(/^lookalike: elasticsearch_unreachable: Elasticsearch at http:\/\/127\.0\.0\.1:1 is unreachable/)]);
  });

  it('a model whose dims disagree with the live mapping', async () => {
    const config = testConfig();
    const deps = testDeps(config);
    try {
      // The index was made for colour-texture with 64 dims; the built-in manifest says 288.
      await deps.indexManager.ensure([testModel('colour-texture', 64)]);
      const { status, lines } = run(['index', 'ensure'], { INDEX_ALIAS: config.index.alias, MODELS: 'colour-texture' });
      expect(status).toBe(1);
      expect(lines).toEqual([expect.stringMatching(/^lookalike: mapping_mismatch: .*vectors\.colour-texture has 64 dims but model colour-texture outputs 288/)]);
    } finally {
      await deps.indexManager.dropAll();
      await deps.close();
    }
  });

  it('no JDK 21 or newer for Elasticsearch', () => {
    // A port nothing answers on, so the script has to start a node and look for a JDK.
    const script = path.join(root, 'scripts', 'services.sh');
    for (const [env, expected] of [
      [{ JVM_DIR: '/nonexistent' }, /no JDK 21 or newer found under \/nonexistent/],
      [{ ES_JAVA_HOME: '/nonexistent-jdk' }, /ES_JAVA_HOME=\/nonexistent-jdk is not a JDK 21 or newer/],
    ] as const) {
      const result = spawnSync('bash', [script, 'up'], { env: { ...process.env, ES_URL: '', ES_PORT: '19299', REDIS_URL: 'redis://127.0.0.1:6379', ...env }, encoding: 'utf8' });
      expect(result.status).not.toBe(0);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toEqual([expect.stringMatching(new RegExp(`^\\[lookalike\\] error: ${expected.source}`))]);
    }
  });
});
