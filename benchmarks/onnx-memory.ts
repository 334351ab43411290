/**
 * What ONNX Runtime's memory settings cost and save for the main model (efficientnet-lite0, 224×224, 2 intra-op
 * threads): the process's resident memory after a stream of batches of mixed sizes (as the API sees them: lone
 * searches, concurrent searches coalesced, the ~20 regions of a localized photo), images per second over that stream,
 * and one image's latency. Per setting: the CPU memory arena on or off, the memory pattern on or off, and the largest
 * batch per run (EMBED_MAX_BATCH: a larger submission runs in several runs).
 *
 * Each setting runs in a process of its own (the arena and the heap are the process's). The project's session options
 * (core/embedding/onnx-model.ts sessionOptions) with the two memory switches overridden.
 *
 * usage: npm run bench:onnx-memory
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { batchLimit, sessionOptions } from '../core/embedding/onnx-model';
import { resolveManifests } from '../core/embedding/manifest';
import { statusBytesOf } from './lib/load-proc';
import { fixed, percentile, writeResult } from './lib/report';

/** Images per submission, in order: the stream each setting runs twice (the second pass timed). */
const STREAM = [1, 3, 20, 2, 5, 8, 13, 1, 24, 6, 4, 7, 17, 1, 2, 20, 9, 1, 11, 3, 32, 1, 16, 2];

interface Setting {
  arena: boolean;
  pattern: boolean;
  maxBatch: number;
}

interface Outcome extends Setting {
  rssMiB: number;
  peakMiB: number;
  imagesPerSecond: number;
  oneImageP50: number;
}

const SETTINGS: Setting[] = [32, 8, 4].flatMap((maxBatch) => [
  { arena: true, pattern: true, maxBatch },
  { arena: true, pattern: false, maxBatch },
  { arena: false, pattern: false, maxBatch },
]);

async function child(setting: Setting): Promise<Outcome> {
  const manifest = resolveManifests(['efficientnet-lite0'])[0]!;
  const session = await ort.InferenceSession.create(fs.readFileSync(manifest.modelPath), {
    ...sessionOptions(2, 1),
    enableCpuMemArena: setting.arena,
    enableMemPattern: setting.pattern,
  });
  const { width, height } = manifest.input;
  const run = async (n: number): Promise<void> => {
    for (let start = 0; start < n; start += setting.maxBatch) {
      const m = Math.min(setting.maxBatch, n - start);
      const data = new Float32Array(m * 3 * width * height).fill(0.1);
      await session.run({ [manifest.input.name]: new ort.Tensor('float32', data, [m, 3, height, width]) });
    }
  };
  for (const n of STREAM) await run(n);
  const started = performance.now();
  for (const n of STREAM) await run(n);
  const seconds = (performance.now() - started) / 1000;
  const ones: number[] = [];
  for (let i = 0; i < 21; i++) {
    const t = performance.now();
    await run(1);
    ones.push(performance.now() - t);
  }
  const images = STREAM.reduce((a, b) => a + b, 0);
  return { ...setting, rssMiB: (statusBytesOf(process.pid, 'VmRSS') ?? NaN) / 2 ** 20, peakMiB: (statusBytesOf(process.pid, 'VmHWM') ?? NaN) / 2 ** 20, imagesPerSecond: images / seconds, oneImageP50: percentile(ones, 50) };
}

function main(): void {
  const outcomes: Outcome[] = [];
  for (const setting of SETTINGS) {
    const output = execFileSync(process.execPath, [...process.execArgv, __filename, '--child', JSON.stringify(setting)], { encoding: 'utf8' });
    const outcome = JSON.parse(output.trim().split('\n').pop()!) as Outcome;
    outcomes.push(outcome);
    process.stdout.write(`${JSON.stringify(outcome)}\n`);
  }
  const onOff = (on: boolean): string => (on ? 'on' : 'off');
  const markdown = `# ONNX Runtime's memory settings (efficientnet-lite0, CPU)

The main model (224×224, 2 intra-op threads), in a process of its own per setting, runs a stream of ${STREAM.length} submissions of
1 to 32 images (${STREAM.reduce((a, b) => a + b, 0)} in all: lone searches, concurrent searches batched together, the regions of a localized
photo) twice, the second pass timed; a submission larger than the batch limit runs in several runs. Resident memory
after the stream (VmRSS, and its high-water mark VmHWM), images per second over the stream, and one image alone.

| largest batch | CPU arena | memory pattern | RSS MiB (peak) | images/s | one image p50 ms |
| --- | --- | --- | --- | --- | --- |
${outcomes.map((o) => `| ${o.maxBatch} | ${onOff(o.arena)} | ${onOff(o.pattern)} | ${fixed(o.rssMiB, 0)} (${fixed(o.peakMiB, 0)}) | ${fixed(o.imagesPerSecond, 1)} | ${fixed(o.oneImageP50, 1)} |`).join('\n')}

ONNX Runtime's arena keeps the memory of the largest batch run; the memory pattern plans a block per input shape and
keeps it. The defaults (core/embedding/onnx-model.ts): arena on, memory pattern off, batches of at most ${batchLimit(0, 'cpu')} on CPU
(\`EMBED_MAX_BATCH\` 0 = by provider: ${batchLimit(0, 'cpu')} on CPU, ${batchLimit(0, 'cuda')} on CUDA).

Load average when it ran: ${fixed(os.loadavg()[0]!, 1)} on ${os.cpus().length} cores.
`;
  writeResult('onnx-memory', 'npm run bench:onnx-memory', { stream: STREAM, outcomes }, markdown);
  process.stdout.write(markdown);
}

const childAt = process.argv.indexOf('--child');
if (childAt > 0) {
  child(JSON.parse(process.argv[childAt + 1]!) as Setting)
    .then((outcome) => process.stdout.write(`${JSON.stringify(outcome)}\n`))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
} else {
  main();
}
