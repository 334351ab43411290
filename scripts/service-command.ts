import { execFileSync, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * How `npm run api` and `npm run indexer` start a service, read from package.json's scripts (their one definition;
 * the Dockerfile's ENV and CMD are checked against them by tests/unit/deploy): the environment the script sets, the
 * Node flags and the entry file. The demo and the benchmarks start the same processes themselves, with this.
 *
 * The environment holds glibc's malloc settings, which a process reads once, at its start (nothing can set them from
 * inside Node): MALLOC_MMAP_THRESHOLD_ fixed at 128 KiB maps every large block (decoded photos, tensors) on its own
 * and gives it back when freed; glibc's default threshold rises with each large free, after which those blocks stay in
 * the heap. The API held 70 MB less under load with it (docs/scaling.md).
 */
export interface ServiceCommand {
  env: Record<string, string>;
  /** Node's arguments: flags, then the entry file (absolute). */
  args: string[];
}

const ROOT = path.resolve(__dirname, '..');

/** The npm script as package.json has it (what reports quote). */
export function serviceScript(name: 'api' | 'indexer'): string {
  const scripts = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
  return scripts[name] ?? '';
}

export function serviceCommand(name: 'api' | 'indexer'): ServiceCommand {
  return parseServiceScript(serviceScript(name), ROOT);
}

/** `NAME=value … node [flags] entry.js` → its environment and Node's arguments, the entry resolved under `root`. */
export function parseServiceScript(script: string, root: string): ServiceCommand {
  const words = script.trim().split(/\s+/);
  const env: Record<string, string> = {};
  let at = 0;
  for (; at < words.length && /^[A-Z_][A-Z0-9_]*=\S*$/.test(words[at]!); at++) {
    const [key, ...value] = words[at]!.split('=');
    env[key!] = value.join('=');
  }
  if (words[at] !== 'node' || at + 1 >= words.length) throw new Error(`not a "NAME=value … node [flags] entry.js" script: ${script}`);
  const args = words.slice(at + 1);
  args[args.length - 1] = path.resolve(root, args.at(-1)!);
  return { env, args };
}

/** The newest modification time (ms) of the TypeScript and JSON files under `directory`. */
function newestSource(directory: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    const file = path.join(directory, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(file));
    else if (entry.name.endsWith('.ts') || entry.name.endsWith('.json')) newest = Math.max(newest, fs.statSync(file).mtimeMs);
  }
  return newest;
}

/**
 * The compiled service built again (`npm run build`) when a source it is compiled from changed since its entry file
 * was written: the demo and the benchmarks run the code in the tree, never an older build.
 */
export function ensureBuilt(name: 'api' | 'indexer', root = ROOT): void {
  const entry = serviceCommand(name).args.at(-1)!;
  // The index mapping (mappings/products.json) is compiled in with the code that imports it.
  const changed = Math.max(...[name, 'core', 'mappings'].map((directory) => newestSource(path.join(root, directory))));
  if (fs.existsSync(entry) && fs.statSync(entry).mtimeMs >= changed) return;
  process.stderr.write(`building the services (npm run build): the ${name}'s sources changed since it was last built\n`);
  execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
}

/**
 * Starts `npm run <name>`'s process directly (no npm or shell in between, so its pid is the service's): the script's
 * environment, then `env` over it; Node `flags` in place of the script's when given. Built first when stale.
 */
export function spawnService(name: 'api' | 'indexer', env: NodeJS.ProcessEnv, stdio: StdioOptions, flags?: string[]): ChildProcess {
  ensureBuilt(name);
  const command = serviceCommand(name);
  const args = flags ? [...flags, command.args.at(-1)!] : command.args;
  return spawn(process.execPath, args, { env: { ...command.env, ...env }, stdio });
}
