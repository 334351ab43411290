import { createHash } from 'node:crypto';
import fs from 'node:fs';
import readline from 'node:readline';
import { Transform } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import { z } from 'zod';
import { DEFAULT_CATALOG, documentId, productSchema, type Product } from '../../core/catalog';
import { loadConfig } from '../../core/config';
import { createDeps } from '../../core/deps';
import { ValidationError, describeIssues } from '../../core/errors';
import { JOBS, createCatalogQueue, eventJobId } from '../../core/jobs';
import { createLogger } from '../../core/logger';
import { createProgress } from '../../core/progress';
import { connectRedis } from '../../core/redis';
import { CatalogStore } from '../../core/search/catalog-store';
import { waitForElasticsearch } from '../../core/search/elasticsearch';

export const importUsage = 'lookalike import <file.jsonl|file.csv> [--version <int>] [--restart]   enqueue one product per line / row';

/**
 * `lookalike import`: validates every row (bad rows are reported by line number and skipped), enqueues the good ones
 * as upsert jobs in chunks, and records how far it got in Redis, so a second run of the same file resumes after
 * the last chunk enqueued (`--restart` starts over). The file is streamed: its size, not its lines, drives the
 * progress bar.
 *
 * Versions: only a newer version changes a product, so an import's version must fit the scheme the catalog's
 * webhooks use. A row may carry its own `version` (a JSONL field or a CSV column); `--version` gives the rows that
 * carry none. Neither: the import refuses to start (exit 2) and explains — a guessed version (the time, say) would
 * silently hide every later webhook that counts 1, 2, 3 … Rows older than what the catalog holds are counted and
 * reported (the indexer ignores them and records that in each product's status).
 *
 * CSV: a header row; `sizes` separated by `|`; `available` true/false/yes/no/1/0; a `signals.<name>` column per
 * signal; empty cells are absent. A row (JSONL or CSV) names its catalog in `catalog` (default `default`).
 */
export const NO_VERSION_MESSAGE = `the rows carry no "version" and no --version was given.
Only a newer version changes a product, so pick the version your catalog's webhooks will count up from:
  - webhooks send a per-product counter (1, 2, 3 …): import with --version 0, so that every later webhook wins;
  - webhooks send a timestamp in ms: import with the time the export was taken, e.g. --version $(date +%s%3N);
  - or give each row its own "version" (a JSONL field or a CSV column) taken from your catalog.
See docs/pipeline.md ("Versions").`;

/** A product's document id: a row names its catalog in a `catalog` field or column (default `default`). */
const productKey = (product: Product): string => documentId(product.catalog ?? DEFAULT_CATALOG, product.id);

const rowVersion = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const INVALID_JSON = Symbol('invalid-json');

interface Row {
  line: number;
  value: unknown;
}

/** Counts the bytes read from a file as they are consumed (not before: a 'data' listener would drain it), for the progress bar. */
function countingStream(file: string): { stream: Transform; bytesRead: () => number } {
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  fs.createReadStream(file).on('error', (error) => stream.destroy(error)).pipe(stream);
  return { stream, bytesRead: () => bytes };
}

async function* jsonlRows(input: NodeJS.ReadableStream): AsyncGenerator<Row> {
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    try {
      yield { line, value: JSON.parse(text) };
    } catch {
      yield { line, value: INVALID_JSON };
    }
  }
}

function csvValue(column: string, cell: string): unknown {
  if (cell === '') return undefined;
  if (column === 'sizes') return cell.split('|').map((s) => s.trim()).filter(Boolean);
  if (column === 'price' || column === 'version') return Number(cell);
  if (column === 'available') {
    if (/^(true|yes|1)$/i.test(cell)) return true;
    if (/^(false|no|0)$/i.test(cell)) return false;
    return cell;
  }
  return cell;
}

async function* csvRows(input: NodeJS.ReadableStream): AsyncGenerator<Row> {
  const parser = input.pipe(parseCsv({ columns: true, info: true, skip_empty_lines: true, trim: true, relax_column_count: false }));
  for await (const record of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    const value: Record<string, unknown> = {};
    for (const [column, cell] of Object.entries(record.record)) {
      const parsed = csvValue(column, cell);
      if (parsed === undefined) continue;
      // `signals.<name>` columns make the product's signals.
      if (column.startsWith('signals.')) ((value.signals ??= {}) as Record<string, unknown>)[column.slice('signals.'.length)] = Number(parsed);
      else value[column] = parsed;
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

/** A row's own version, split from its product fields. */
function splitVersion(value: unknown): { version: unknown; fields: unknown } {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !('version' in value)) return { version: undefined, fields: value };
  const { version, ...fields } = value as Record<string, unknown>;
  return { version, fields };
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
  const deps = createDeps(config, { role: 'worker', logger: createLogger(config, 'lookalike', 2) });
  const queue = createCatalogQueue(deps.redis, config);
  const store = new CatalogStore(deps.es, config.index.alias, 'false');
  const digest = fileDigest(file);
  const checkpointKey = `${config.redis.queuePrefix}:import:${digest}`;
  const input = countingStream(file);
  const totalBytes = fs.statSync(file).size;
  const progress = createProgress(`import ${file}`);
  let chunk: Array<{ line: number; product: Product; version: number }> = [];
  const summary = { rows: 0, enqueued: 0, invalid: 0, older: 0 };
  const older: string[] = [];

  let catalogExists = false;
  /** Rows older than what the catalog holds now: the indexer will ignore them (each product's status shows it). */
  const countOlder = async (rows: typeof chunk) => {
    if (!catalogExists) return;
    const stored = await store.read(rows.map((row) => productKey(row.product)));
    for (const row of rows) {
      const current = stored.get(productKey(row.product));
      if (current && current.version > row.version) {
        summary.older++;
        if (older.length < 5) older.push(`${row.product.id} (line ${row.line}: version ${row.version}, catalog ${current.version}${current.deleted ? ', deleted' : ''})`);
      }
    }
  };

  try {
    await waitForElasticsearch(deps.es, config.elasticsearch.url, 10_000);
    await connectRedis(deps.redis, config.redis);
    // Before the API or an indexer has run once there is no index yet, and so nothing a row could be older than.
    catalogExists = (await deps.indexManager.currentIndex()) !== null;
    const saved = restart ? null : (JSON.parse((await deps.redis.get(checkpointKey)) ?? 'null') as { version: number | null; line: number } | null);
    const resumeAfter = saved && saved.version === (version ?? null) ? saved.line : 0;
    let lastLine = resumeAfter;

    const flush = async () => {
      if (chunk.length === 0) return;
      const receivedAt = Date.now();
      await countOlder(chunk);
      await queue.addBulk(
        chunk.map(({ line, product, version: rowVersionValue }) => {
          // The same row of the same file at the same version is the same event (a re-run enqueues it once); at
          // another version it is a new one.
          const eventId = `import-${digest}-${line}-v${rowVersionValue}`;
          return { name: JOBS.upsert, data: { eventId, version: rowVersionValue, product, receivedAt }, opts: { jobId: eventJobId(eventId, product.catalog) } };
        }),
      );
      await deps.status.setMany(chunk.map(({ product, version: v }) => ({ productId: productKey(product), state: 'queued' as const, version: v })));
      summary.enqueued += chunk.length;
      lastLine = chunk[chunk.length - 1]!.line;
      await deps.redis.set(checkpointKey, JSON.stringify({ version: version ?? null, line: lastLine }), 'EX', 30 * 86_400);
      chunk = [];
    };

    let first = true;
    for await (const row of csv ? csvRows(input.stream) : jsonlRows(input.stream)) {
      const { version: own, fields } = splitVersion(row.value);
      if (first && row.value !== INVALID_JSON) {
        first = false;
        if (own === undefined && version === undefined) {
          process.stderr.write(`lookalike import: ${NO_VERSION_MESSAGE}\n`);
          return 2;
        }
      }
      if (row.line <= resumeAfter) continue;
      summary.rows++;
      const parsed = productSchema.safeParse(fields);
      const parsedVersion = own === undefined ? (version !== undefined ? { success: true as const, data: version } : null) : rowVersion.safeParse(own);
      if (!parsed.success || !parsedVersion?.success) {
        summary.invalid++;
        const reasons =
          row.value === INVALID_JSON
            ? ['not valid JSON']
            : [...(parsed.success ? [] : describeIssues(parsed.error.issues)), ...(parsedVersion === null ? ['version: missing (this row has none, and no --version was given)'] : parsedVersion.success ? [] : describeIssues(parsedVersion.error.issues, 'version'))];
        process.stderr.write(`${file}:${row.line}: ${reasons.join('; ')}\n`);
      } else chunk.push({ line: row.line, product: parsed.data, version: parsedVersion.data });
      if (chunk.length >= 500) await flush();
      progress.update(input.bytesRead(), totalBytes, `bytes; ${summary.enqueued} enqueued, ${summary.invalid} invalid`);
    }
    await flush();
    progress.done(`bytes; ${summary.enqueued} enqueued, ${summary.invalid} invalid, ${summary.older} older than the catalog`);
    if (summary.older > 0) {
      process.stderr.write(
        `lookalike import: ${summary.older} rows are older than the version the catalog holds and will be ignored ` +
          `(their status shows last_ignored); first: ${older.join('; ')}\n`,
      );
    }
    console.log(JSON.stringify({ file, version: version ?? null, rows: summary.rows, enqueued: summary.enqueued, invalid: summary.invalid, older_than_catalog: summary.older, resumed_after_line: resumeAfter || null }));
    return summary.invalid > 0 ? 1 : 0;
  } finally {
    input.stream.destroy();
    await queue.close();
    await deps.close();
  }
}
