import { parseArgs } from 'node:util';
import { z } from 'zod';

/**
 * The flags of `npm run bench:load`:
 * `-- --url <base> --scenario <name> [--rate <n>] [--duration <d>]` and the options below. Without --url the wrapper
 * starts the demo stack itself (scripts/demo-stack.ts) on ports 18280–18282.
 */
export const SCENARIOS = ['smoke', 'photo-640', 'photo-12mp', 'similar', 'vector', 'webhook', 'mixed', 'knee', 'overload'] as const;
export type Scenario = (typeof SCENARIOS)[number];
export const POOLS = ['640', '12mp'] as const;
export type Pool = (typeof POOLS)[number];

/** k6's duration syntax, the subset the wrapper also has to read: `90s`, `2m`, `1m30s`, `1h`. */
const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Seconds of a k6 duration (`1m30s` → 90). */
export function durationSeconds(text: string): number {
  const match = DURATION.exec(text);
  if (!match || text === '') throw new Error(`"${text}" is not a duration (e.g. 30s, 2m, 1m30s)`);
  return Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
}

const duration = z.string().refine((text) => DURATION.test(text) && text !== '' && durationSeconds(text) > 0, 'a duration such as 30s, 2m or 1m30s');
const positive = z.coerce.number().positive().finite();
const port = z.coerce.number().int().min(1).max(65_535);

export const loadArgsSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }).optional().describe('The API to load; unset: start a demo stack'),
    scenario: z.enum(SCENARIOS),
    rate: positive.optional().describe('Requests (or webhooks) a second; for knee the first step'),
    duration: duration.optional().describe('How long each run (each knee step) lasts'),
    photos: z
      .string()
      .transform((text) => text.split(',').map((item) => item.trim()))
      .pipe(z.array(z.enum(POOLS)).min(1))
      .optional()
      .describe('knee, overload: which photo pools (640, 12mp)'),
    rates: z
      .string()
      .transform((text) => text.split(',').map(Number))
      .pipe(z.array(z.number().positive().finite()).min(1))
      .optional()
      .describe('knee: the offered rates to step through'),
    p95: positive.optional().describe('knee: the p95 target in ms, for every pool (default 100 for 640 px, 300 for 12 MP)'),
    'per-category': z.coerce.number().int().min(1).max(2000).optional().describe('The started stack: drawings per category'),
    alias: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,60}$/).optional().describe("The started stack's index alias and queue prefix"),
    'api-port': port.default(18280),
    'image-port': port.default(18281),
    'indexer-port': port.default(18282),
    'drop-index': z.boolean().default(false).describe("Delete the started stack's index and Redis keys afterwards"),
    results: z.string().optional().describe('Where the report goes (default benchmarks/results; smoke: .cache/load/results)'),
    'webhook-secret': z.string().min(1).optional(),
    'api-key': z.string().min(1).optional(),
    'es-url': z.url({ protocol: /^https?$/ }).optional(),
    'api-pid': z.coerce.number().int().positive().optional().describe('With --url: the API process, to measure its CPU and memory'),
  })
  .strict();

export type LoadArgs = z.infer<typeof loadArgsSchema>;

export const USAGE = `usage: npm run bench:load -- --scenario <${SCENARIOS.join('|')}> [--url <base>] [--rate <n>] [--duration <d>]
  [--photos 640,12mp] [--rates 2,4,8] [--p95 <ms>] [--per-category <n>] [--alias <name>] [--api-port <p>] [--image-port <p>]
  [--indexer-port <p>] [--drop-index] [--results <dir>] [--webhook-secret <s>] [--api-key <k>] [--es-url <url>] [--api-pid <pid>]`;

/** Parses the command line; throws an Error whose message names every bad flag (and the usage). */
export function parseLoadArgs(argv: string[]): LoadArgs {
  const options = Object.fromEntries(Object.keys(loadArgsSchema.shape).map((name) => [name, { type: name === 'drop-index' ? ('boolean' as const) : ('string' as const) }]));
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  const parsed = loadArgsSchema.safeParse(values);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `--${String(issue.path[0] ?? '?')}: ${issue.message}`);
    throw new Error(`${problems.join('; ')}\n${USAGE}`);
  }
  return parsed.data;
}
