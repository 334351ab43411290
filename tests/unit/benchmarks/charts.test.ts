import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { lineChartSpec } from '../../../benchmarks/lib/charts';

describe('lineChartSpec', () => {
  it('joins each line\'s points in the order given, not sorted by x', () => {
    const spec = lineChartSpec({ title: 't', x: { title: 'x' }, y: { title: 'y' }, series: [{ name: 'sweep', points: [{ x: 5, y: 0.6 }, { x: 3, y: 0.7 }, { x: 9, y: 1 }] }] }) as unknown as {
      layer: Array<{ data: { values: Array<{ x: number; order: number }> }; encoding: { order?: { field: string } } }>;
    };
    const lines = spec.layer[0]!;
    expect(lines.encoding.order).toEqual({ field: 'order', type: 'quantitative' });
    expect(lines.data.values.map((value) => [value.x, value.order])).toEqual([[5, 0], [3, 1], [9, 2]]);
  });
});

describe('renderPng', () => {
  // Vega is an ES module, which jest's module system does not load: the chart is drawn by tsx in a child process.
  it('draws in a process whose image decoders are restricted, and leaves SVG blocked afterwards', () => {
    const root = path.resolve(__dirname, '..', '..', '..');
    // Inside the checkout (test-artifacts/ is ignored by git), so that the script finds the project's node_modules.
    fs.mkdirSync(path.join(root, 'test-artifacts'), { recursive: true });
    const script = path.join(fs.mkdtempSync(path.join(root, 'test-artifacts', 'chart-')), 'draw.ts');
    fs.writeFileSync(
      script,
      `import sharp from 'sharp';
import { restrictDecoders } from ${JSON.stringify(path.join(root, 'core/image/decode'))};
import { lineChartSpec, renderPng } from ${JSON.stringify(path.join(root, 'benchmarks/lib/charts'))};
(async () => {
  restrictDecoders();
  const png = await renderPng(lineChartSpec({ title: 't', x: { title: 'x' }, y: { title: 'y' }, series: [{ name: 'a', points: [{ x: 1, y: 1 }, { x: 2, y: 3 }] }] }));
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>');
  const after = await sharp(svg).metadata().then(() => 'decoded', (error) => error.message);
  process.stdout.write(JSON.stringify({ format: (await sharp(png).metadata()).format, after }));
})();
`,
    );
    try {
      const out = execFileSync(path.join(root, 'node_modules', '.bin', 'tsx'), [script], { cwd: root, encoding: 'utf8' });
      expect(JSON.parse(out)).toEqual({ format: 'png', after: expect.stringContaining('unsupported image format') });
    } finally {
      fs.rmSync(path.dirname(script), { recursive: true, force: true });
    }
  }, 60_000);
});
