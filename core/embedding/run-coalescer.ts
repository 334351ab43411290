/**
 * Dynamic batching for one model: the images that callers submit while the model is busy are run together in its
 * next batch, up to `maxBatch`. One run at a time per model, so concurrent requests do not compete for the same
 * ONNX Runtime threads, and a batch of 8 runs about 1.5× as many images a second as 8 runs of one. A lone request
 * never waits: when the model is idle its images run at once.
 *
 * A batch that fails runs each submission alone, so a failure is pinned on the submission that causes it and the
 * others get their outputs.
 */

/**
 * Runs `n` images laid out back to back in `data`; one output per image. `extra`: a submission of the run asked for
 * the model's extra outputs (a feature map beside the vector), which the run then gives every image.
 */
export type BatchRun<T> = (data: Float32Array, n: number, extra: boolean) => Promise<T[]>;

interface Submission<T> {
  data: Float32Array;
  n: number;
  extra: boolean;
  resolve: (outputs: T[]) => void;
  reject: (error: unknown) => void;
}

export interface CoalescerStats {
  /** Runs made, and images run, since the start. */
  runs: number;
  images: number;
  /** Submissions waiting for the model now. */
  waiting: number;
}

export class RunCoalescer<T> {
  private readonly pending: Submission<T>[] = [];
  private running = false;
  private runs = 0;
  private images = 0;

  /**
   * @param run the model's batched run
   * @param inputSize floats per image in `data`
   * @param maxBatch most images per run (a larger submission runs alone, as one run)
   * @param onRun told the images and milliseconds of every run (metrics)
   */
  constructor(
    private readonly run: BatchRun<T>,
    private readonly inputSize: number,
    private readonly maxBatch: number,
    private readonly onRun?: (images: number, ms: number) => void,
  ) {}

  /**
   * Runs the `n` images of `data` with whatever else is submitted meanwhile; resolves with their outputs (with the
   * model's extra outputs when `extra`).
   */
  submit(data: Float32Array, n: number, extra = false): Promise<T[]> {
    if (data.length !== n * this.inputSize) return Promise.reject(new RangeError(`${data.length} floats for ${n} images of ${this.inputSize}`));
    return new Promise<T[]>((resolve, reject) => {
      this.pending.push({ data, n, extra, resolve, reject });
      this.pump();
    });
  }

  get stats(): CoalescerStats {
    return { runs: this.runs, images: this.images, waiting: this.pending.length };
  }

  private pump(): void {
    if (this.running || this.pending.length === 0) return;
    // Oldest first, as many whole submissions as fit in one batch (always at least one).
    const group = [this.pending.shift()!];
    let total = group[0]!.n;
    while (this.pending.length > 0 && total + this.pending[0]!.n <= this.maxBatch) {
      const next = this.pending.shift()!;
      group.push(next);
      total += next.n;
    }
    this.running = true;
    void this.runGroup(group, total).finally(() => {
      this.running = false;
      this.pump();
    });
  }

  private async runGroup(group: Submission<T>[], total: number): Promise<void> {
    if (group.length === 1) return this.runAlone(group[0]!);
    const data = new Float32Array(total * this.inputSize);
    let offset = 0;
    for (const submission of group) {
      data.set(submission.data, offset);
      offset += submission.data.length;
    }
    let outputs: T[];
    try {
      outputs = await this.timed(data, total, group.some((submission) => submission.extra));
    } catch {
      // Which submission broke the batch is unknown: each runs alone and gets its own outcome.
      for (const submission of group) await this.runAlone(submission);
      return;
    }
    let start = 0;
    for (const submission of group) {
      submission.resolve(outputs.slice(start, start + submission.n));
      start += submission.n;
    }
  }

  private async runAlone(submission: Submission<T>): Promise<void> {
    try {
      submission.resolve(await this.timed(submission.data, submission.n, submission.extra));
    } catch (error) {
      submission.reject(error);
    }
  }

  private async timed(data: Float32Array, n: number, extra: boolean): Promise<T[]> {
    const started = performance.now();
    const outputs = await this.run(data, n, extra);
    if (outputs.length !== n) throw new RangeError(`the run returned ${outputs.length} outputs for ${n} images`);
    this.runs++;
    this.images += n;
    this.onRun?.(n, performance.now() - started);
    return outputs;
  }
}
