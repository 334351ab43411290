import { createHash } from 'node:crypto';
import fs from 'node:fs';
import readline from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import { productSchema, type Product } from '../../core/catalog';
import { loadConfig } from '../../core/config';
import { ValidationError, describeIssues } from '../../core/errors';
import { QUEUES, createQueue, eventJobId } from '../../core/jobs';
import { createLogger } from '../../core/logger';
import { createProgress } from '../../core/progress';
import { connectRedis, createRedisConnection } from '../../core/redis';
import { StatusStore } from '../../core/status-store';

export const importUsage = 'lookalike import <file.jsonl|file.csv> [--version <int>] [--restart]   enqueue one product per line / row';

/**
 * `lookalike import`: validates every row (bad rows are reported by line number and skipped), enqueues the good ones
 * as upsert jobs in chunks, and records how far it got in Redis, so a second run of the same file resumes after
 * the last chunk enqueued (`--restart` starts over). Every row of one file gets the same version (`--version`, by
 * default the time of the first run in ms), so a re-import never overwrites newer webhook data.
 *
 * CSV: a header row; `sizes` separated by `|`; `available` true/false/yes/no/1/0; empty cells are absent.
 */
interface Row {
  line: number;
  value: unknown;
}

async function* jsonlRows(file: string): AsyncGenerator<Row> {
  const lines = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    try {
      yield { line, value: JSON.parse(text) };
    } catch {
      yield { line, value: Symbol.for('invalid-json') };
    }
  }
}

function csvValue(column: string, cell: string): unknown {
  if (cell === '') return undefined;
  if (column === 'sizes') return cell.split('|').map((s) => s.trim()).filter(Boolean);
  if (column === 'price') return Number(cell);
  if (column === 'available') {
    if (/^(true|yes|1)$/i.test(cell)) return true;
    if (/^(false|no|0)$/i.test(cell)) return false;
    return cell;
  }
  return cell;
}

async function* csvRows(file: string): AsyncGenerator<Row> {
  const parser = fs.createReadStream(file).pipe(parseCsv({ columns: true, info: true, skip_empty_lines: true, trim: true, relax_column_count: false }));
  for await (const record of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    const value: Record<string, unknown> = {};
    for (const [column, cell] of Object.entries(record.record)) {
      const parsed = csvValue(column, cell);
      if (parsed !== undefined) value[column] = parsed;
    }
    yield { line: record.info.lines, value };
  }
}

function fileDigest(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.alloc(1 << 20);
  for (let read; (read = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0; ) hash.update(buffer.subarray(0, read));
  fs.closeSync(fd);
  return hash.digest('hex').slice(0, 32);
}

export async function importCommand(args: string[]): Promise<number> {
  let file: string | undefined;
  let version: number | undefined;
  let restart = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--version') version = Number(args[++i]);
    else if (args[i] === '--restart') restart = true;
    else if (!file && !args[i]!.startsWith('--')) file = args[i];
    else throw new ValidationError(`unexpected argument ${args[i]}\n${importUsage}`, { code: 'usage' });
  }
  if (!file) throw new ValidationError(`no file given\n${importUsage}`, { code: 'usage' });
  if (version !== undefined && (!Number.isSafeInteger(version) || version < 0)) throw new ValidationError('--version must be a non-negative integer', { code: 'usage' });
  if (!fs.existsSync(file)) throw new ValidationError(`${file} does not exist`, { code: 'file_not_found' });
  const csv = /\.csv$/i.test(file);

  const config = loadConfig(process.env);
  createLogger(config, 'lookalike', 2);
  const redis = createRedisConnection(config.redis.url, 'worker');
  await connectRedis(redis, config.redis.url);
  const queue = createQueue(QUEUES.catalog, redis, config);
  const status = new StatusStore(redis, config.redis.queuePrefix);
  const digest = fileDigest(file);
  const checkpointKey = `${config.redis.queuePrefix}:import:${digest}`;
  const saved = restart ? null : (JSON.parse((await redis.get(checkpointKey)) ?? 'null') as { version: number; line: number } | null);
  const importVersion = version ?? saved?.version ?? Date.now();
  const resumeAfter = saved && saved.version === importVersion ? saved.line : 0;
  const totalLines = (fs.readFileSync(file, 'utf8').match(/\n/g)?.length ?? 0) + 1;

  const progress = createProgress(`import ${file}`);
  let chunk: Array<{ line: number; product: Product }> = [];
  let enqueued = 0;
  let invalid = 0;
  let rows = 0;
  let lastLine = resumeAfter;

  const flush = async () => {
    if (chunk.length === 0) return;
    const receivedAt = Date.now();
    await queue.addBulk(
      chunk.map(({ line, product }) => ({
        name: 'upsert',
        data: { eventId: `import-${digest}-${line}`, version: importVersion, product, receivedAt },
        opts: { jobId: eventJobId(`import-${digest}-${line}`) },
      })),
    );
    await status.setMany(chunk.map(({ product }) => ({ productId: product.id, state: 'queued' as const, version: importVersion })));
    enqueued += chunk.length;
    lastLine = chunk[chunk.length - 1]!.line;
    await redis.set(checkpointKey, JSON.stringify({ version: importVersion, line: lastLine }), 'EX', 30 * 86_400);
    chunk = [];
  };

  try {
    for await (const row of csv ? csvRows(file) : jsonlRows(file)) {
      if (row.line <= resumeAfter) continue;
      rows++;
      const parsed = productSchema.safeParse(row.value);
      if (!parsed.success) {
        invalid++;
        const reason = row.value === Symbol.for('invalid-json') ? ['not valid JSON'] : describeIssues(parsed.error.issues);
        process.stderr.write(`${file}:${row.line}: ${reason.join('; ')}\n`);
      } else chunk.push({ line: row.line, product: parsed.data });
      if (chunk.length >= 500) await flush();
      progress.update(row.line, totalLines, `${enqueued} enqueued, ${invalid} invalid`);
    }
    await flush();
    progress.done(`${enqueued} enqueued, ${invalid} invalid`);
  } finally {
    await queue.close();
    redis.disconnect();
  }
  console.log(JSON.stringify({ file, version: importVersion, rows, enqueued, invalid, resumed_after_line: resumeAfter || null }));
  return invalid > 0 ? 1 : 0;
}
