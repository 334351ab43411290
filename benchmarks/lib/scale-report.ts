import path from 'node:path';
import { writeLineChart, type LineChart, type Series } from './charts';
import { fixed, RESULTS_DIR, type LatencyStats } from './report';
import { UNREACHABLE_SAMPLE, type ScaleResult } from './scale-measure';
import { CONFIGS, FILTER_LEVELS, LEVELS } from './scale-setup';
import { SHAPE_PERCENTILES, type ShapeCheck } from './synthetic-vectors';

/** The tables and charts of the catalog-scale benchmark. */

/** Draws a chart into the results; a chart that cannot be drawn is a note in the text, never the end of a long run. */
async function chart(file: string, spec: LineChart, alt: string): Promise<string> {
  try {
    await writeLineChart(path.join(RESULTS_DIR, file), spec);
    return `![${alt}](${file})`;
  } catch (error) {
    return `(chart ${file} could not be drawn: ${(error as Error).message})`;
  }
}

const GIB = 2 ** 30;
const MB = 1e6;
const ms3 = (s: LatencyStats) => `${fixed(s.p50, 1)} / ${fixed(s.p95, 1)} / ${fixed(s.p99, 1)}`;
const count = (n: number) => n.toLocaleString('en');
const bytes = (n: number) => (n >= GIB ? `${fixed(n / GIB, 2)} GiB` : `${fixed(n / MB, n >= 100 * MB ? 0 : 1)} MB`);

/** The targets of the issue, at 1,000,000 products (2 cores, 24 GiB). */
export const TARGETS = { knn_p99_ms: 30, recall: 0.95, speedup: 30, e2e_p95_ms: 100, e2e_rate: 10, vector_memory_bytes: 1.5 * GIB, rss_bytes: 400 * MB };

/** The same vector field in results of either layout (before photos: `vectors.<model>`; since: `photos.vectors.<model>`). */
const sameField = (a: string, b: string): boolean => a.replace(/^photos\./, '') === b.replace(/^photos\./, '');

/** One size's table: a column per configuration. */
export function sizeTable(results: ScaleResult[], primary: string, models: string[]): string {
  const head = `| | ${results.map((r) => CONFIGS[r.config]?.label ?? r.config).join(' | ')} |\n| --- | ${results.map(() => '---').join(' | ')} |`;
  const line = (label: string, cell: (r: ScaleResult) => string) => `| ${label} | ${results.map(cell).join(' | ')} |`;
  const levels = (pick: (r: ScaleResult, level: string) => string) => (r: ScaleResult) => LEVELS.map((level) => pick(r, level)).join(' · ');
  const rows: string[] = [];
  for (const model of models) {
    const name = model === primary ? `**Elasticsearch kNN ${model}**` : `Elasticsearch kNN ${model}`;
    for (const level of LEVELS) rows.push(line(`${name}, ${FILTER_LEVELS[level]!.label}: p50 / p95 / p99 ms`, (r) => ms3(r.knn[model]![level]!.approx)));
    rows.push(
      line(`↳ timed passes after an untimed first pass; that first pass, right after the index opened: p50 / p99 ms (no filter · 50 % · 5 %)`, (r) => {
        const first = r.knn_first_pass?.[model];
        if (!first) return 'none: the one pass above was the first, once a query (before 2026-12-08)';
        return `${r.knn_repeats} · ${LEVELS.map((level) => `${fixed(first[level]!.p50, 1)} / ${fixed(first[level]!.p99, 1)}`).join(' · ')}`;
      }),
    );
    rows.push(line(`↳ recall@10 of exact (no filter · 50 % · 5 %)`, levels((r, level) => fixed(r.knn[model]![level]!.recall, 3))));
    rows.push(line(`↳ exact (flat copy) p50 ms (no filter · 50 % · 5 %)`, levels((r, level) => fixed(r.knn[model]![level]!.exact.p50, 1))));
    rows.push(line(`↳ speed-up over exact, p50 ÷ p50 (no filter · 50 % · 5 %)`, levels((r, level) => `${fixed(r.knn[model]![level]!.speedup, 1)}×`)));
    rows.push(
      line(`↳ products their own vector does not find (unreachable in the graph), of ${count(UNREACHABLE_SAMPLE)} drawn: num_candidates 100 · 1,000`, (r) => {
        const own = r.unreachable?.[model];
        return own ? `${own.at_100} · ${own.at_1000} of ${count(own.sampled)}` : 'not measured';
      }),
    );
  }
  for (const level of LEVELS) rows.push(line(`Elasticsearch hybrid (the API's two requests), ${FILTER_LEVELS[level]!.label}: p50 / p95 / p99 ms`, (r) => ms3(r.hybrid[level]!)));
  for (const [i, run] of results[0]!.end_to_end.entries()) {
    const how = run.per_second > 0 ? `at a steady ${run.per_second}/s` : 'back to back';
    const of = (r: ScaleResult) => r.end_to_end[i]!;
    // A run found invalid afterwards shows why once, and no figures; a configuration measured without this run, a dash.
    const valid = (render: (r: ScaleResult) => string, first = false) => (r: ScaleResult) => (!r.end_to_end[i] ? '—' : of(r).invalid ? (first ? `not valid: ${of(r).invalid}` : '—') : render(r));
    LEVELS.forEach((level, n) => rows.push(line(`**end to end**, photo upload ${how}, ${FILTER_LEVELS[level]!.label}: p50 / p95 / p99 ms`, valid((r) => ms3(of(r).levels[level]!), n === 0))));
    rows.push(line(`↳ recall@1 of the real products (their dev-set query photos, no filter, through the API)`, valid((r) => `${fixed(of(r).recall_at_1, 3)} (${of(r).queries})`)));
    rows.push(line(`↳ requests that failed (counted as misses)`, valid((r) => `${of(r).errors}${of(r).first_error ? ` (${of(r).first_error!.slice(0, 60)})` : ''}`)));
    rows.push(line(`↳ API RSS: largest sample / VmHWM`, valid((r) => `${bytes(of(r).api_rss.max)} / ${bytes(of(r).api_rss.peak)}`)));
    rows.push(line(`↳ machine load average (1 min), start → end`, valid((r) => `${fixed(of(r).load_average[0], 1)} → ${fixed(of(r).load_average[1], 1)}`)));
  }
  rows.push(line('bulk load (refresh −1, replicas 0)', (r) => (r.build ? `${fixed(r.build.load_seconds, 0)} s (${count(Math.round(r.products / r.build.load_seconds))} docs/s)` : 'reused')));
  rows.push(line('merges settling after the load · force merge to 1 segment', (r) => (r.build ? `${fixed(r.build.settle_seconds, 0)} s · ${fixed(r.build.merge_seconds, 0)} s` : 'reused')));
  rows.push(line('segments after the load (largest)', (r) => (r.build ? `${r.build.segments_after_load.count} (${bytes(r.build.segments_after_load.largest_bytes)})` : 'reused')));
  rows.push(line('Elasticsearch heap while building: largest used / largest old generation / heap', (r) => (r.build ? `${bytes(r.build.heap.max_used_bytes)} / ${bytes(r.build.heap.max_old_bytes)} / ${bytes(r.build.heap.heap_bytes)}` : 'reused')));
  rows.push(line('store size (`_stats`; with the exact copies)', (r) => bytes(r.footprint.store_bytes)));
  for (const field of results[0]!.footprint.fields) {
    rows.push(line(`\`${field.field}\` on disk (\`_disk_usage\`)`, (r) => bytes(r.footprint.fields.find((f) => sameField(f.field, field.field))?.disk_bytes ?? NaN)));
  }
  for (const field of results[0]!.footprint.fields.filter((f) => f.catalog)) {
    rows.push(
      line(`\`${field.field}\` in memory: quantized + graph (\`_stats\`) · documented`, (r) => {
        const f = r.footprint.fields.find((x) => sameField(x.field, field.field));
        if (!f) return '—';
        return `${f.type}: ${bytes(f.quantized_bytes)} + ${bytes(f.graph_bytes)} · ${bytes(f.documented_memory_bytes)}`;
      }),
    );
  }
  rows.push(line('**vector memory** (catalog fields) measured · documented', (r) => `${bytes(r.footprint.vector_memory_bytes)} · ${bytes(r.footprint.documented_vector_memory_bytes)}`));
  rows.push(line('↳ per 1,000,000 products (linear)', (r) => `${bytes((r.footprint.vector_memory_bytes / r.footprint.documents) * 1e6)} · ${bytes((r.footprint.documented_vector_memory_bytes / r.footprint.documents) * 1e6)}`));
  return `${head}\n${rows.join('\n')}`;
}

/** The issue's targets against one size's results (meant for 1,000,000; at a smaller size, for orientation). */
export function targetTable(results: ScaleResult[], primary: string): string {
  const mark = (ok: boolean) => (ok ? '✅' : '❌');
  const worst = (r: ScaleResult, pick: (level: string) => number, high: boolean) => (high ? Math.max : Math.min)(...['half', 'twentieth'].map(pick));
  const line = (label: string, cell: (r: ScaleResult) => string) => `| ${label} | ${results.map(cell).join(' | ')} |`;
  return [
    `| target | ${results.map((r) => CONFIGS[r.config]?.label ?? r.config).join(' | ')} |`,
    `| --- | ${results.map(() => '---').join(' | ')} |`,
    line(`filtered kNN p99 ≤ ${TARGETS.knn_p99_ms} ms (${primary}, worse of 50 % and 5 %)`, (r) => {
      const value = worst(r, (level) => r.knn[primary]![level]!.approx.p99, true);
      return `${mark(value <= TARGETS.knn_p99_ms)} ${fixed(value, 1)} ms`;
    }),
    line(`filtered recall@10 ≥ ${TARGETS.recall} of exact`, (r) => {
      const value = worst(r, (level) => r.knn[primary]![level]!.recall, false);
      return `${mark(value >= TARGETS.recall)} ${fixed(value, 3)}`;
    }),
    line(`filtered ≥ ${TARGETS.speedup}× faster than exact`, (r) => {
      const value = worst(r, (level) => r.knn[primary]![level]!.speedup, false);
      return `${mark(value >= TARGETS.speedup)} ${fixed(value, 1)}×`;
    }),
    line(`end to end p95 ≤ ${TARGETS.e2e_p95_ms} ms at ${TARGETS.e2e_rate}/s (worst filter level)`, (r) => {
      const run = r.end_to_end.find((e) => e.per_second === TARGETS.e2e_rate && !e.invalid);
      if (!run) return 'not measured at this rate';
      const value = Math.max(...LEVELS.map((level) => run.levels[level]!.p95));
      return `${mark(value <= TARGETS.e2e_p95_ms)} ${fixed(value, 1)} ms`;
    }),
    line('vector memory ≤ 1.5 GiB per 1,000,000 products (measured, linear)', (r) => {
      const value = (r.footprint.vector_memory_bytes / r.footprint.documents) * 1e6;
      return `${mark(value <= TARGETS.vector_memory_bytes)} ${bytes(value)}`;
    }),
    line('API RSS ≤ 400 MB (largest sample)', (r) => {
      const runs = [...r.end_to_end.filter((e) => !e.invalid)];
      if (runs.length === 0) return 'not measured';
      const value = Math.max(...runs.map((e) => e.api_rss.max));
      return `${mark(value <= TARGETS.rss_bytes)} ${bytes(value)}`;
    }),
  ].join('\n');
}

/** The force merge's effect (configuration measured as loaded, then merged) and the cold opens. */
export function tuningTable(results: ScaleResult[], primary: string): string {
  const out: string[] = [];
  const loaded = results.filter((r) => r.as_loaded);
  if (loaded.length > 0) {
    out.push(`| products · configuration | index | ${primary} kNN no filter: p50 / p95 / p99 ms, recall@10 | 5 % pass: p50 / p95 / p99 ms, recall@10 |`, '| --- | --- | --- | --- |');
    for (const r of loaded) {
      const a = r.as_loaded!;
      const cell = (level: string) => (a.knn[level] ? `${ms3(a.knn[level].approx)}, ${fixed(a.knn[level].recall, 3)}` : (a.missing?.[level] ?? '—'));
      out.push(`| ${count(r.products)} · ${r.config} | as loaded, ${a.segments} segments | ${cell('all')} | ${cell('twentieth')} |`);
      out.push(`| ${count(r.products)} · ${r.config} | force-merged, 1 segment | ${ms3(r.knn[primary]!.all!.approx)}, ${fixed(r.knn[primary]!.all!.recall, 3)} | ${ms3(r.knn[primary]!.twentieth!.approx)}, ${fixed(r.knn[primary]!.twentieth!.recall, 3)} |`);
    }
  }
  const heuristics = results.filter((r) => r.heuristics);
  if (heuristics.length > 0) {
    out.push('', `| products · configuration | filtered HNSW search | ${primary} kNN, ≈ 50 % pass: p50 / p95 / p99 ms, recall@10 | ≈ 5 % pass: p50 / p95 / p99 ms, recall@10 |`, '| --- | --- | --- | --- |');
    for (const r of heuristics) {
      for (const h of r.heuristics!) out.push(`| ${count(r.products)} · ${r.config} | ${h.label} | ${ms3(h.knn.half!.approx)}, ${fixed(h.knn.half!.recall, 3)} | ${ms3(h.knn.twentieth!.approx)}, ${fixed(h.knn.twentieth!.recall, 3)} |`);
    }
  }
  const preload = results.filter((r) => r.preload);
  if (preload.length > 0) {
    out.push('', '| products · configuration | `index.store.preload` | segment | open (page cache dropped) | index files in the page cache after the open | first search | first 50 searches: p50 / max / sum |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const r of preload) {
      const p = r.preload!;
      if ('skipped' in p) {
        out.push(`| ${count(r.products)} · ${r.config} | not measured: ${p.skipped} | | | | | |`);
        continue;
      }
      for (const open of [p.without, p.with]) {
        const sorted = [...open.first_ms].sort((a, b) => a - b);
        out.push(
          `| ${count(r.products)} · ${r.config} | ${open.preload.length ? `\`${JSON.stringify(open.preload)}\`` : 'none'} | ${open.compound ? 'compound (`.cfs`)' : 'one file per format'} | ${fixed(open.open_ms / 1000, 2)} s | ${bytes(open.cached_after_open.cached_bytes)} of ${bytes(open.cached_after_open.total_bytes)} | ${fixed(open.first_ms[0]!, 1)} ms | ${fixed(sorted[Math.floor(sorted.length / 2)]!, 1)} / ${fixed(sorted.at(-1)!, 1)} / ${fixed(open.first_ms.reduce((a, b) => a + b, 0), 0)} ms |`,
        );
      }
    }
  }
  return out.join('\n');
}

/** The num_candidates sweep: a table, and a chart of recall@10 against p95 per configuration and filter. */
export async function sweepSection(results: ScaleResult[], primary: string): Promise<string> {
  const swept = results.filter((r) => r.sweep);
  if (swept.length === 0) return '';
  const sizes = [...new Set(swept.map((r) => r.products))];
  const parts: string[] = [];
  for (const size of sizes) {
    const rows = swept.filter((r) => r.products === size);
    const mapped = (r: ScaleResult) => r.sweep!.filter((p) => p.oversample === undefined);
    const series: Series[] = rows.flatMap((r) =>
      ['all', 'twentieth'].map((level) => ({ name: `${r.config}, ${FILTER_LEVELS[level]!.label}`, points: mapped(r).filter((p) => p.level === level).map((p) => ({ x: p.p95, y: p.recall })) })),
    );
    const file = `catalog-scale-sweep-${size}.png`;
    const ncs = [...new Set(rows[0]!.sweep!.map((p) => p.num_candidates))];
    const image = await chart(
      file,
      {
        title: `${primary} kNN at ${count(size)} products: num_candidates ${ncs[0]} … ${ncs.at(-1)}`,
        x: { title: 'p95 latency (ms), Elasticsearch alone', log: true },
        y: { title: 'recall@10 of exact', zero: false },
        series,
        rules: [{ y: 0.95, label: 'target 0.95' }],
      },
      'recall@10 against p95',
    );
    const table = (level: string) => {
      const lines = rows.flatMap((r) =>
        [...new Set(r.sweep!.map((p) => p.oversample))].map((oversample) => {
          const cells = ncs.map((nc) => {
            const point = r.sweep!.find((p) => p.level === level && p.num_candidates === nc && p.oversample === oversample);
            return point ? `${fixed(point.recall, 3)} (${fixed(point.p95, 1)})` : '';
          });
          return `| ${r.config} | ${oversample ?? `${r.index_options[primary]!.oversample} (mapping)`} | ${cells.join(' | ')} |`;
        }),
      );
      return `${FILTER_LEVELS[level]!.label}: recall@10 (p95 ms) at num_candidates\n\n| configuration | rescoring oversample | ${ncs.join(' | ')} |\n| --- | --- | ${ncs.map(() => '---').join(' | ')} |\n${lines.join('\n')}`;
    };
    parts.push(`### num_candidates at ${count(size)} products\n\n${image}\n\n${table('all')}\n\n${table('twentieth')}`);
  }
  return parts.join('\n\n');
}

/** The API's memory and speed with other settings, beside the defaults (back to back, no filter). */
export function apiVariantsTable(results: ScaleResult[]): string {
  const measured = results.filter((r) => r.api_variants);
  if (measured.length === 0) return '';
  const row = (products: number, name: string, e: ScaleResult['end_to_end'][number], config: string) =>
    e.invalid ? `| ${count(products)} · ${config} | ${name} | not valid: ${e.invalid} | | | |` : `| ${count(products)} · ${config} | ${name} | ${ms3(e.levels.all!)} | ${fixed(e.recall_at_1, 3)} | ${bytes(e.api_rss.max)} | ${fixed(e.load_average[0], 1)} → ${fixed(e.load_average[1], 1)} |`;
  const lines = measured.flatMap((r) => [row(r.products, 'defaults', r.end_to_end.find((e) => e.per_second === 0) ?? r.end_to_end[0]!, r.config), ...Object.entries(r.api_variants!).map(([name, e]) => row(r.products, `\`${name}\``, e, r.config))]);
  return `| products · configuration | API setting | end to end back to back, no filter: p50 / p95 / p99 ms | recall@1 | API RSS (largest sample) | load average |\n| --- | --- | --- | --- | --- | --- |\n${lines.join('\n')}`;
}

/** The generator check: nearest-neighbour distances of real and generated products, a table and a chart per model. */
export async function shapeSection(checks: Record<string, ShapeCheck>, realCount: number): Promise<string> {
  const models = Object.keys(checks.generated!.summary);
  const rows: string[] = [];
  const images: string[] = [];
  for (const model of models) {
    const gen = checks.generated!.summary[model]!;
    const noise = checks.noise!.summary[model]!;
    const fmt = (values: number[]) => values.map((v) => fixed(v, 3)).join(' / ');
    rows.push(`| ${model} | real ↔ real | ${fmt(gen.real)} | |`);
    rows.push(`| ${model} | generated ↔ generated (this benchmark) | ${fmt(gen.generated)} | ${fixed(gen.ks, 2)} |`);
    rows.push(`| ${model} | generated → nearest real (this benchmark) | ${fmt(gen.generated_to_real)} | |`);
    rows.push(`| ${model} | real + noise ↔ each other (search-latency's catalog) | ${fmt(noise.generated)} | ${fixed(noise.ks, 2)} |`);
    const cdf = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return Array.from({ length: 41 }, (_, k) => ({ x: sorted[Math.min(sorted.length - 1, Math.floor((k / 40) * (sorted.length - 1)))]!, y: k / 40 }));
    };
    images.push(
      await chart(
        `catalog-scale-nn-${model}.png`,
        {
          title: `${model}: cosine distance to the nearest neighbour, ${count(realCount)} products`,
          x: { title: 'cosine distance to the nearest other product' },
          y: { title: 'share of products' },
          series: [
            { name: 'real', points: cdf(checks.generated!.distances[model]!.real) },
            { name: 'generated (this benchmark)', points: cdf(checks.generated!.distances[model]!.generated) },
            { name: 'real + noise (search-latency)', points: cdf(checks.noise!.distances[model]!.generated) },
          ],
        },
        model,
      ),
    );
  }
  return `| model | nearest neighbour | cosine distance p${SHAPE_PERCENTILES.join(' / p')} | KS distance to real |\n| --- | --- | --- | --- |\n${rows.join('\n')}\n\n${images.join('\n')}`;
}
