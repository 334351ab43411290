import type { Statistic } from './feature-map';
import type { CatalogIndex } from './region-search';
import {
  attentionMethod,
  denseMethod,
  handMethod,
  proposalMethod,
  scdaMethod,
  scdaObjectsMethod,
  trimElse,
  trimElseScda,
  trimMethod,
  wholeMethod,
  type Method,
  type ProposalOptions,
  type ScdaSpec,
} from './localization-methods';

/**
 * The methods benchmarks/localization.ts compares: today's crops and the ceiling, an SCDA sweep (map statistic ×
 * input size × threshold, then padding), region proposals scored by the catalog, and combinations.
 */
const STATISTICS: Statistic[] = ['sum', 'crow'];
const SIZES = [224, 320, 448];
const THRESHOLDS = [1, 1.5, 2];

const spec = (statistic: Statistic, size: number, threshold: number, padding = 0.1): ScdaSpec => ({ statistic, size, threshold, upsample: 4, padding });

const proposals = (name: string, options: Partial<ProposalOptions>): Method =>
  proposalMethod(name, { scda: [], grid: [], whole: true, trim: false, criterion: 'top1', margin: 0.1, maxObjects: 4, ...options });

const GRID: Array<[number, number]> = [[0.5, 3], [0.7, 2]];
const DENSE_GRID: Array<[number, number]> = [[0.4, 4], [0.55, 3], [0.7, 2], [0.85, 1]];
const allScda = (size: number, count: number): Array<ScdaSpec & { count: number }> =>
  STATISTICS.flatMap((statistic) => THRESHOLDS.map((threshold) => ({ ...spec(statistic, size, threshold), count })));

/** The methods; catalog-guided ones score against `index`. */
export const methods = (index: CatalogIndex): Method[] => [
  wholeMethod,
  trimMethod,
  attentionMethod,
  handMethod,
  ...STATISTICS.flatMap((statistic) => SIZES.flatMap((size) => THRESHOLDS.map((threshold) => scdaMethod(spec(statistic, size, threshold))))),
  ...[0, 0.2].map((padding) => scdaMethod(spec('sum', 448, 1.5, padding))),
  trimElseScda(spec('sum', 448, 1.5)),
  scdaObjectsMethod(spec('sum', 448, 1.5), 4, 0.1),
  ...(['sum', 'crow'] as const).flatMap((statistic) => [
    proposals(`proposals: ${statistic} 320 top-3 + whole (top1)`, { scda: [{ ...spec(statistic, 320, 1), count: 3 }] }),
    proposals(`proposals: ${statistic} 320 t1/1.5/2 + whole (top1)`, { scda: THRESHOLDS.map((threshold) => ({ ...spec(statistic, 320, threshold), count: 1 })) }),
  ]),
  proposals('proposals: sum 448 t1/1.5/2 top-2 + whole (top1)', { scda: THRESHOLDS.map((threshold) => ({ ...spec('sum', 448, threshold), count: 2 })) }),
  proposals('proposals: sum 448 t1/1.5/2 top-2 + whole (gap)', { scda: THRESHOLDS.map((threshold) => ({ ...spec('sum', 448, threshold), count: 2 })), criterion: 'gap' }),
  proposals('proposals: grid 0.5×3² 0.7×2² + whole (top1)', { grid: GRID }),
  proposals('proposals: grid 0.5×3² 0.7×2² + whole (gap)', { grid: GRID, criterion: 'gap' }),
  proposals('proposals: all scda 320 top-2 + grid + whole (top1)', { scda: allScda(320, 2), grid: GRID }),
  proposals('proposals: sum 448 t1–3 top-3 + whole (top1)', { scda: [1, 1.5, 2, 2.5, 3].map((threshold) => ({ ...spec('sum', 448, threshold), count: 3 })) }),
  proposals('proposals: sum 448 t1–3 top-3 pad0.2 + whole (top1)', { scda: [1, 1.5, 2, 2.5, 3].map((threshold) => ({ ...spec('sum', 448, threshold, 0.2), count: 3 })) }),
  proposals('proposals: sum 448 t1–3 top-3 + grid + whole (top1)', { scda: [1, 1.5, 2, 2.5, 3].map((threshold) => ({ ...spec('sum', 448, threshold), count: 3 })), grid: GRID }),
  ...[
    { top: 3, size: 224, margin: 0.15, thresholds: [1, 1.5], padding: 0.1 },
    { top: 2, size: 224, margin: 0.15, thresholds: [1], padding: 0.1 },
  ].flatMap((refine) => [
    proposals(`proposals: sum 448 t1–3 top-3 + whole, zoom top ${refine.top} × t${refine.thresholds.join('/')} (top1)`, { scda: [1, 1.5, 2, 2.5, 3].map((threshold) => ({ ...spec('sum', 448, threshold), count: 3 })), refine }),
    proposals(`proposals: sum 448 t1–3 top-3 + grid + whole, zoom top ${refine.top} × t${refine.thresholds.join('/')} (top1)`, { scda: [1, 1.5, 2, 2.5, 3].map((threshold) => ({ ...spec('sum', 448, threshold), count: 3 })), grid: GRID, refine }),
  ]),
  trimElse(proposals('proposals: sum 448 t1–3 top-3 + whole (top1)', { scda: [1, 1.5, 2, 2.5, 3].map((threshold) => ({ ...spec('sum', 448, threshold), count: 3 })) })),
  trimElse(
    proposals('proposals: sum 448 t1–3 top-3 + whole, zoom top 3 × t1/1.5 (top1)', {
      scda: [1, 1.5, 2, 2.5, 3].map((threshold) => ({ ...spec('sum', 448, threshold), count: 3 })),
      refine: { top: 3, size: 224, margin: 0.15, thresholds: [1, 1.5], padding: 0.1 },
    }),
  ),
  ...[0.02, 0.05].map((wholeMargin) =>
    trimElse(proposals(`proposals: sum 448 t1–3 top-3 + whole, whole kept unless beaten by ${wholeMargin} (top1)`, { scda: [1, 1.5, 2, 2.5, 3].map((threshold) => ({ ...spec('sum', 448, threshold), count: 3 })), wholeMargin })),
  ),
  ...[1, 3].map((keep) => proposals(`pooled 448: all scda top-2 + dense grid + whole, keep ${keep} (top1)`, { scda: allScda(448, 2), grid: DENSE_GRID, pooled: { size: 448, keep } })),
  ...[224, 320, 448].map((size) => denseMethod(index, size, { minCells: 2, maxShare: 0.7, maxAspect: 4, shortlist: 0, padding: 0 }, 1, 0)),
  denseMethod(index, 448, { minCells: 2, maxShare: 0.7, maxAspect: 4, shortlist: 0, padding: 0.1 }, 1, 0),
  denseMethod(index, 448, { minCells: 2, maxShare: 0.7, maxAspect: 4, shortlist: 100, padding: 0 }, 1, 0),
  denseMethod(index, 448, { minCells: 2, maxShare: 0.7, maxAspect: 4, shortlist: 0, padding: 0.1 }, 3, 1),
  proposals('pooled 448 (shortlist 100): all scda top-2 + dense grid + whole, keep 3 (top1)', { scda: allScda(448, 2), grid: DENSE_GRID, pooled: { size: 448, keep: 3, shortlist: 100 } }),
  ...[1, 3].map((keep) => proposals(`pooled 320: all scda top-2 + dense grid + whole, keep ${keep} (top1)`, { scda: allScda(320, 2), grid: DENSE_GRID, pooled: { size: 320, keep } })),
];

/** Methods also run on the plain-background dev set (by default: those a service could use). */
export const PLAIN_DEFAULT = '^(whole image|trim \\(today\\)|scda sum 448px t2 u4 pad0.1|trim, else .*)$';
