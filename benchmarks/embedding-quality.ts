/**
 * Retrieval quality of the embedding models on the dev set (real openclipart drawings as catalog photos; photo-like
 * queries: crop, rotation, blur, JPEG 40, colour cast, textured background, phone photo).
 *
 * For each model and for the hybrid (w · semantic + (1 − w) · colour-texture, the same sum the boosted kNN clauses
 * give), with and without autocrop: recall@1 and @10 of the exact item, recall per distortion, and per-category
 * precision@10 (share of the top 10 in the query item's category). The hybrid weight is swept; the best recall@1
 * (ties: precision@10) is the recommended default.
 *
 * usage: npm run bench:embedding-quality -- [--per-category 100] [--queries 300]
 */
import path from 'node:path';
import { loadConfig } from '../core/config';
import { createEmbedder } from '../core/embedding/embedder';
import { createLogger } from '../core/logger';
import { DISTORTIONS } from './lib/clipart';
import { buildDevSet, type DevSet } from './lib/devset';
import { embedAll, similarities } from './lib/embed';
import { fixed, writeResult } from './lib/report';

const SEMANTIC = 'efficientnet-lite0';
const COLOUR = 'colour-texture';
type CropMode = 'auto' | 'none';

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

interface Metrics {
  recall_at_1: number;
  recall_at_10: number;
  precision_at_10: number;
  recall_at_1_by_distortion: Record<string, number>;
  precision_at_10_by_category: Record<string, number>;
}

function evaluate(devset: DevSet, scores: Float32Array): Metrics {
  const nc = devset.catalog.length;
  const itemIndex = new Map(devset.catalog.map((item, i) => [item.id, i]));
  let hits1 = 0;
  let hits10 = 0;
  const byDistortion: Record<string, [number, number]> = {};
  const byCategory: Record<string, [number, number]> = {};
  devset.queries.forEach((query, q) => {
    const row = scores.subarray(q * nc, (q + 1) * nc);
    const target = itemIndex.get(query.item)!;
    const targetScore = row[target]!;
    let better = 0;
    for (let c = 0; c < nc; c++) if (row[c]! > targetScore) better++;
    const top = Array.from(row.keys()).sort((a, b) => row[b]! - row[a]!).slice(0, 10);
    if (better === 0) hits1++;
    if (better < 10) hits10++;
    const d = (byDistortion[query.distortion] ??= [0, 0]);
    d[0] += better === 0 ? 1 : 0;
    d[1]++;
    const sameCategory = top.filter((c) => devset.catalog[c]!.category === query.category).length / 10;
    const k = (byCategory[query.category] ??= [0, 0]);
    k[0] += sameCategory;
    k[1]++;
  });
  const n = devset.queries.length;
  const ratio = (entries: Record<string, [number, number]>) => Object.fromEntries(Object.entries(entries).map(([key, [a, b]]) => [key, Number((a / b).toFixed(4))]));
  const perCategory = ratio(byCategory);
  const values = Object.values(perCategory);
  return {
    recall_at_1: hits1 / n,
    recall_at_10: hits10 / n,
    precision_at_10: values.reduce((a, b) => a + b, 0) / values.length,
    recall_at_1_by_distortion: ratio(byDistortion),
    precision_at_10_by_category: perCategory,
  };
}

function mix(a: Float32Array, b: Float32Array, w: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = w * a[i]! + (1 - w) * b[i]!;
  return out;
}

async function main(): Promise<void> {
  const perCategory = argument('per-category', 100);
  const queryItems = argument('queries', 300);
  const devset = await buildDevSet(path.resolve(__dirname, '..', '.cache', 'devset'), { perCategory, queryItems, seed: 7 });
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn', MODELS: `${SEMANTIC},${COLOUR}` });
  const embedder = await createEmbedder(config, createLogger(config));
  const results: Record<string, Record<CropMode, Metrics>> = { [SEMANTIC]: {} as never, [COLOUR]: {} as never, hybrid: {} as never };
  const sweep: Record<CropMode, Array<{ weight: number } & Omit<Metrics, 'precision_at_10_by_category'>>> = { auto: [], none: [] };
  const dims = Object.fromEntries(embedder.models.map((m) => [m.id, m.dims]));
  const matrices = {} as Record<CropMode, { semantic: Float32Array; colour: Float32Array }>;
  for (const crop of ['auto', 'none'] as const) {
    const catalog = await embedAll(embedder, devset.catalog.map((c) => c.photo), crop, `catalog (crop ${crop})`);
    const queries = await embedAll(embedder, devset.queries.map((q) => q.photo), crop, `queries (crop ${crop})`);
    const semantic = similarities(queries[SEMANTIC]!, catalog[SEMANTIC]!, dims[SEMANTIC]!);
    const colour = similarities(queries[COLOUR]!, catalog[COLOUR]!, dims[COLOUR]!);
    matrices[crop] = { semantic, colour };
    results[SEMANTIC]![crop] = evaluate(devset, semantic);
    results[COLOUR]![crop] = evaluate(devset, colour);
    for (let step = 0; step <= 20; step++) {
      const weight = step / 20;
      const { precision_at_10_by_category: _, ...metrics } = evaluate(devset, mix(semantic, colour, weight));
      sweep[crop].push({ weight, ...metrics });
    }
  }
  await embedder.close();
  const best = [...sweep.auto].sort((a, b) => b.recall_at_1 - a.recall_at_1 || b.precision_at_10 - a.precision_at_10)[0]!;
  const weights = { [SEMANTIC]: best.weight, [COLOUR]: Number((1 - best.weight).toFixed(2)) };
  for (const crop of ['auto', 'none'] as const) {
    results.hybrid![crop] = evaluate(devset, mix(matrices[crop].semantic, matrices[crop].colour, best.weight));
  }
  const command = `npm run bench:embedding-quality -- --per-category ${perCategory} --queries ${queryItems}`;
  const table = (crop: CropMode) =>
    [SEMANTIC, COLOUR, 'hybrid']
      .map((name) => {
        const m = results[name]![crop];
        return `| ${name}${name === 'hybrid' ? ` (${weights[SEMANTIC]} / ${weights[COLOUR]})` : ''} | ${crop} | ${fixed(m.recall_at_1)} | ${fixed(m.recall_at_10)} | ${fixed(m.precision_at_10)} | ${DISTORTIONS.map((d) => fixed(m.recall_at_1_by_distortion[d] ?? NaN, 2)).join(' | ')} |`;
      })
      .join('\n');
  const markdown = `# Embedding quality on the dev set

${devset.catalog.length} catalog photos (openclipart-png drawings on white, ${perCategory} per category), ${devset.queries.length} queries
(${queryItems} items × ${DISTORTIONS.length} distortions). Recall of the exact item; precision@10 = share of the top 10 in the
query item's category, averaged over categories.

| model | autocrop | recall@1 | recall@10 | precision@10 | ${DISTORTIONS.join(' | ')} |
| --- | --- | --- | --- | --- | ${DISTORTIONS.map(() => '---').join(' | ')} |
${table('auto')}
${table('none')}

Hybrid weight sweep (autocrop on): recall@1 by semantic weight w (colour-texture 1 − w):

| w | ${sweep.auto.map((r) => r.weight.toFixed(2)).join(' | ')} |
| --- | ${sweep.auto.map(() => '---').join(' | ')} |
| recall@1 | ${sweep.auto.map((r) => fixed(r.recall_at_1, 3)).join(' | ')} |
| precision@10 | ${sweep.auto.map((r) => fixed(r.precision_at_10, 3)).join(' | ')} |

Recommended default weights: \`${SEMANTIC}: ${weights[SEMANTIC]}, ${COLOUR}: ${weights[COLOUR]}\` (best recall@1, then precision@10).
`;
  writeResult('embedding-quality', command, { devset: { catalog: devset.catalog.length, queries: devset.queries.length, distortions: DISTORTIONS }, results, sweep, recommended_weights: weights }, markdown);
  process.stdout.write(markdown);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
