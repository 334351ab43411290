import { RunCoalescer } from '../../../../core/embedding/run-coalescer';

/** A fake model: each image is `inputSize` floats, its output the first float; records the batch size of every run. */
function fakeModel(inputSize: number, options: { failWhen?: (values: number[]) => boolean } = {}) {
  const runs: number[][] = [];
  const extras: boolean[] = [];
  const gates: Array<() => void> = [];
  const run = async (data: Float32Array, n: number, extra: boolean): Promise<number[]> => {
    const values = Array.from({ length: n }, (_, i) => data[i * inputSize]!);
    runs.push(values);
    extras.push(extra);
    // Each run waits until the test lets it finish, so the test decides what arrives while the model is busy.
    await new Promise<void>((resolve) => gates.push(resolve));
    if (options.failWhen?.(values)) throw new Error(`bad batch ${values.join(',')}`);
    return values.map((value) => value * 10);
  };
  const finishRun = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    gates.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { run, runs, extras, finishRun };
}

const images = (...values: number[]) => {
  const data = new Float32Array(values.length * 2);
  values.forEach((value, i) => (data[i * 2] = value));
  return data;
};

describe('RunCoalescer', () => {
  it('runs a lone submission at once, alone', async () => {
    const model = fakeModel(2);
    const coalescer = new RunCoalescer(model.run, 2, 8);
    const result = coalescer.submit(images(1), 1);
    await model.finishRun();
    await expect(result).resolves.toEqual([10]);
    expect(model.runs).toEqual([[1]]);
  });

  it('batches what is submitted while the model is busy, oldest first, each caller getting its own outputs', async () => {
    const model = fakeModel(2);
    const coalescer = new RunCoalescer(model.run, 2, 4);
    const first = coalescer.submit(images(1), 1);
    const second = coalescer.submit(images(2, 3), 2);
    const third = coalescer.submit(images(4), 1);
    const fourth = coalescer.submit(images(5, 6), 2);
    expect(coalescer.stats.waiting).toBe(3);
    await model.finishRun();
    await model.finishRun();
    await model.finishRun();
    expect(model.runs).toEqual([[1], [2, 3, 4], [5, 6]]);
    await expect(Promise.all([first, second, third, fourth])).resolves.toEqual([[10], [20, 30], [40], [50, 60]]);
    expect(coalescer.stats).toEqual({ runs: 3, images: 6, waiting: 0 });
  });

  it('asks a run for the extra outputs only when a submission in it does', async () => {
    const model = fakeModel(2);
    const coalescer = new RunCoalescer(model.run, 2, 4);
    const first = coalescer.submit(images(1), 1);
    const plain = coalescer.submit(images(2), 1);
    const extra = coalescer.submit(images(3), 1, true);
    const after = coalescer.submit(images(4, 5, 6, 7), 4);
    for (let i = 0; i < 3; i++) await model.finishRun();
    await Promise.all([first, plain, extra, after]);
    expect(model.runs).toEqual([[1], [2, 3], [4, 5, 6, 7]]);
    expect(model.extras).toEqual([false, true, false]);
  });

  it('runs each submission of a failed batch alone, so only the one at fault fails', async () => {
    const model = fakeModel(2, { failWhen: (values) => values.includes(7) });
    const coalescer = new RunCoalescer(model.run, 2, 8);
    const busy = coalescer.submit(images(1), 1);
    const good = coalescer.submit(images(2), 1);
    const bad = coalescer.submit(images(7), 1);
    const alsoGood = coalescer.submit(images(3), 1);
    const badOutcome = expect(bad).rejects.toThrow('bad batch 7');
    for (let i = 0; i < 5; i++) await model.finishRun();
    expect(model.runs).toEqual([[1], [2, 7, 3], [2], [7], [3]]);
    await expect(busy).resolves.toEqual([10]);
    await expect(good).resolves.toEqual([20]);
    await badOutcome;
    await expect(alsoGood).resolves.toEqual([30]);
  });

  it('tells the listener the size of every run', async () => {
    const model = fakeModel(2);
    const sizes: number[] = [];
    const coalescer = new RunCoalescer(model.run, 2, 8, (n) => sizes.push(n));
    const all = [coalescer.submit(images(1), 1), coalescer.submit(images(2), 1), coalescer.submit(images(3), 1)];
    await model.finishRun();
    await model.finishRun();
    await Promise.all(all);
    expect(sizes).toEqual([1, 2]);
  });

  it('refuses data that is not n images', async () => {
    const coalescer = new RunCoalescer(fakeModel(2).run, 2, 8);
    await expect(coalescer.submit(new Float32Array(3), 1)).rejects.toThrow(RangeError);
  });
});
