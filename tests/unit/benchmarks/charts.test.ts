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
