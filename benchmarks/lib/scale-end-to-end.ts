import os from 'node:os';
import { shuffle } from '../../core/random';
import { freePort, multipart, sampleRss, startApi, steadyLoad } from './api-process';
import { request } from './bench-index';
import { latencyStats, type LatencyStats } from './report';
import { FILTER_LEVELS, LEVELS, mean, type Queries } from './scale-setup';

/** Photo uploads to the real API process, as a shopper's phone sends them, with and without filters. */

export interface EndToEnd {
  /** Searches a second, sent on schedule; 0: back to back. */
  per_second: number;
  levels: Record<string, LatencyStats>;
  /** The unfiltered uploads whose first result is the product the photo shows. */
  recall_at_1: number;
  queries: number;
  errors: number;
  first_error?: string;
  api_rss: { max: number; peak: number };
  /** Set afterwards on a run found not to measure this benchmark's API (why): the report shows no figures for it. */
  invalid?: string;
  /** The machine's 1-minute load average at the start and the end (others share it). */
  load_average: [number, number];
}

/**
 * Starts the API on the benchmark's index and sends `count` uploads with each filter level, shuffled, at each of
 * `rates`; recall@1 is read from the unfiltered ones.
 */
export async function measureEndToEnd(env: NodeJS.ProcessEnv, queries: Queries, options: { rates: number[]; count: number }, random: () => number): Promise<EndToEnd[]> {
  const count = Math.min(options.count, queries.uploads.length);
  const api = await startApi({ ...env, API_PORT: String(await freePort()), API_HOST: '127.0.0.1', RATE_LIMIT_PER_S: '0' });
  try {
    // Warm-up: the first requests load the models' kernels and the index files, and JIT the API's code.
    for (let q = 0; q < 20; q++) {
      const form = multipart(queries.uploads[q % count]!);
      await request(`${api.url}/v1/search`, 'POST', form.headers, form.body);
    }
    const out: EndToEnd[] = [];
    for (const perSecond of options.rates) {
      const order = shuffle(
        Array.from({ length: count * LEVELS.length }, (_, n) => n),
        random,
      );
      const rss = sampleRss(api.child.pid!);
      const loadAtStart = os.loadavg()[0]!;
      const answers = await steadyLoad(
        order.length,
        perSecond,
        async (n, agent) => {
          const filters = FILTER_LEVELS[LEVELS[Math.floor(order[n]! / count)]!]!.filters;
          const form = multipart(queries.uploads[order[n]! % count]!, filters ? { filters } : undefined);
          const { body } = await request(`${api.url}/v1/search`, 'POST', form.headers, form.body, agent);
          return (body.results as Array<{ id: string }>)[0]?.id;
        },
        perSecond > 0 ? `end to end at ${perSecond}/s` : 'end to end, back to back',
      );
      const memory = rss.stop();
      const answered = (l: number) => answers.flatMap((answer, n) => (Math.floor(order[n]! / count) === l && !answer.error ? [answer.ms] : []));
      // A failed request counts as a miss.
      const plain = answers.flatMap((answer, n) => (order[n]! < count ? [answer.answer === queries.targets[order[n]!] ? 1 : 0] : []));
      const errors = answers.filter((answer) => answer.error);
      out.push({
        per_second: perSecond,
        levels: Object.fromEntries(LEVELS.map((level, l) => [level, latencyStats(answered(l))])),
        recall_at_1: mean(plain),
        queries: plain.length,
        errors: errors.length,
        ...(errors.length > 0 ? { first_error: errors[0]!.error } : {}),
        api_rss: { max: memory.max, peak: memory.peak },
        load_average: [loadAtStart, os.loadavg()[0]!],
      });
    }
    return out;
  } finally {
    await api.stop();
  }
}
