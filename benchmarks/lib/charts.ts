import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
// Vega and Vega-Lite declare their types through package.json "exports", which this project's moduleResolution
// ("node") does not read: the types come from their declaration files by path, the modules by name at run time.
import type { TopLevelSpec } from 'vega-lite/build/index';

type VegaLite = typeof import('vega-lite/build/index');
type Vega = typeof import('vega-typings');
/** Loads an ES module by name (a variable specifier: resolved by Node at run time, not by the type checker). */
const load = <T>(name: string): Promise<T> => import(name) as Promise<T>;

/**
 * Benchmark charts as PNG images: a Vega-Lite spec compiled and rendered to SVG by Vega (headless, no canvas), then
 * rasterised by sharp (librsvg). One look for every chart: white background, the system sans-serif font.
 */

export interface Series {
  /** The legend's name of this line. */
  name: string;
  /** Joined in this order. */
  points: Array<{ x: number; y: number }>;
}

export interface LineChart {
  title: string;
  x: { title: string; log?: boolean };
  /** `max`: the top of the scale (e.g. when every value may be 0, which leaves no scale to draw). */
  y: { title: string; log?: boolean; zero?: boolean; max?: number };
  series: Series[];
  /** Horizontal reference lines (targets), each with its label. */
  rules?: Array<{ y: number; label: string }>;
  width?: number;
  height?: number;
}

/** A line chart (one line per series, points marked) as a Vega-Lite spec. */
export function lineChartSpec(chart: LineChart): TopLevelSpec {
  // Each line joins its points in the order given (a sweep's points are not sorted by x).
  const values = chart.series.flatMap((series) => series.points.map((point, order) => ({ series: series.name, x: point.x, y: point.y, order })));
  const scale = (axis: { log?: boolean; zero?: boolean; max?: number }) => ({
    ...(axis.log ? { type: 'log' as const } : { zero: axis.zero ?? true }),
    ...(axis.max !== undefined ? { domainMax: axis.max } : {}),
  });
  const lines = {
    data: { values },
    mark: { type: 'line' as const, point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative' as const, title: chart.x.title, scale: scale(chart.x) },
      y: { field: 'y', type: 'quantitative' as const, title: chart.y.title, scale: scale(chart.y) },
      color: { field: 'series', type: 'nominal' as const, title: null, sort: chart.series.map((series) => series.name) },
      order: { field: 'order', type: 'quantitative' as const },
    },
  };
  const rules = (chart.rules ?? []).length
    ? [
        {
          data: { values: chart.rules! },
          layer: [
            { mark: { type: 'rule' as const, strokeDash: [4, 4], color: '#888' }, encoding: { y: { field: 'y', type: 'quantitative' as const } } },
            {
              mark: { type: 'text' as const, align: 'left' as const, dx: 4, dy: -6, color: '#555' },
              encoding: { y: { field: 'y', type: 'quantitative' as const }, x: { value: 0 }, text: { field: 'label', type: 'nominal' as const } },
            },
          ],
        },
      ]
    : [];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: chart.title,
    width: chart.width ?? 560,
    height: chart.height ?? 320,
    background: 'white',
    config: { font: 'DejaVu Sans, Helvetica, Arial, sans-serif' },
    layer: [lines, ...rules],
  } as TopLevelSpec;
}

/** Renders a Vega-Lite spec to PNG bytes (2× for sharp text). */
export async function renderPng(spec: TopLevelSpec, scale = 2): Promise<Buffer> {
  // Vega and Vega-Lite are ES modules: loaded when a chart is drawn.
  const vegaLite = await load<VegaLite>('vega-lite');
  const vega = await load<Vega>('vega');
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG(scale);
    // A process that has decoded an image has every libvips loader but the accepted photo formats blocked
    // (core/image/decode.ts restrictDecoders: SVG is not a format the service takes). This SVG is Vega's own: its
    // loader is let through for this one conversion, and blocked again after it.
    sharp.unblock({ operation: [SVG_LOADER] });
    try {
      return await sharp(Buffer.from(svg)).png().toBuffer();
    } finally {
      sharp.block({ operation: [SVG_LOADER] });
    }
  } finally {
    view.finalize();
  }
}

const SVG_LOADER = 'VipsForeignLoadSvgBuffer';

/** Draws `chart` into `file` (a .png path); returns the path. */
export async function writeLineChart(file: string, chart: LineChart): Promise<string> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, await renderPng(lineChartSpec(chart)));
  return file;
}
