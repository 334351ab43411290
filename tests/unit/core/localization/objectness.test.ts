import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeObjectness, loadObjectnessHead, objectnessOutputs, splitWeights } from '../../../../core/localization/objectness';

/** Five outputs per cell, all cells "nothing here" (heat logit −10) unless set. */
function outputsOf(width: number, height: number, cells: Record<number, [number, number, number, number, number]>): Float32Array {
  const out = new Float32Array(width * height * 5);
  for (let i = 0; i < width * height; i++) out[i * 5] = -10;
  for (const [cell, values] of Object.entries(cells)) out.set(values, Number(cell) * 5);
  return out;
}

const logit = (p: number): number => Math.log(p / (1 - p));
const options = { maxBoxes: 5, minScore: 0.1, padding: 0, iouThreshold: 0.7 };

describe('decodeObjectness', () => {
  // A 4 × 3 map over a 400 × 300 image: cells of 100 × 100 px.
  const size = { width: 400, height: 300 };

  it('turns each heat peak into a box of the predicted size around the predicted centre, strongest first', () => {
    const outputs = outputsOf(4, 3, {
      // Cell (1, 1): centre (150, 150) + offset (0.2, −0.1) cells = (170, 140); size e^0 × 2 cells = 200 × 100 px.
      5: [logit(0.6), 0.2, -0.1, Math.log(2), 0],
      // Cell (3, 0): centre (350, 50); 100 × 100 px; stronger.
      3: [logit(0.9), 0, 0, 0, 0],
    });
    const boxes = decodeObjectness(outputs, 4, 3, size, options);
    expect(boxes.map((b) => b.box)).toEqual([
      { left: 300, top: 0, width: 100, height: 100 },
      { left: 70, top: 90, width: 200, height: 100 },
    ]);
    expect(boxes[0]!.score).toBeCloseTo(0.9, 6);
    expect(boxes[1]!.score).toBeCloseTo(0.6, 6);
  });

  it('keeps only local maxima, above the score, at most maxBoxes, padded and clipped to the image', () => {
    const outputs = outputsOf(4, 3, {
      5: [logit(0.8), 0, 0, Math.log(2), Math.log(2)],
      4: [logit(0.7), 0, 0, 0, 0], // beside a stronger cell: not a peak
      11: [logit(0.05), 0, 0, 0, 0], // a peak below minScore
      3: [logit(0.5), 0, 0, 0, 0],
    });
    expect(decodeObjectness(outputs, 4, 3, size, options).map((b) => b.score.toFixed(2))).toEqual(['0.80', '0.50']);
    expect(decodeObjectness(outputs, 4, 3, size, { ...options, maxBoxes: 1 })).toHaveLength(1);
    // 200 × 200 px around (150, 150), padded by 100 %: 400 × 400, clipped to the image.
    expect(decodeObjectness(outputs, 4, 3, size, { ...options, padding: 1, maxBoxes: 1 })[0]!.box).toEqual({ left: 0, top: 0, width: 350, height: 300 });
  });

  it('gives each peak a box per scale of its predicted size, the count capped by maxBoxes', () => {
    const outputs = outputsOf(4, 3, { 5: [logit(0.8), 0, 0, 0, 0] }); // (150, 150), 100 × 100 px
    const boxes = decodeObjectness(outputs, 4, 3, size, { ...options, scales: [0.5, 1, 2] }).map((b) => b.box);
    expect(boxes).toEqual([
      { left: 125, top: 125, width: 50, height: 50 },
      { left: 100, top: 100, width: 100, height: 100 },
      { left: 50, top: 50, width: 200, height: 200 },
    ]);
    expect(decodeObjectness(outputs, 4, 3, size, { ...options, scales: [0.5, 1, 2], maxBoxes: 2 })).toHaveLength(2);
  });

  it('drops a box that overlaps a stronger one by more than the IoU threshold', () => {
    const outputs = outputsOf(4, 3, {
      0: [logit(0.9), 0.5, 0.5, Math.log(2), Math.log(2)], // (100, 100), 200 × 200
      2: [logit(0.8), -0.5, 0.5, Math.log(2), Math.log(2)], // (200, 100), 200 × 200: IoU 1/3 with the first
    });
    expect(decodeObjectness(outputs, 4, 3, size, options)).toHaveLength(2);
    expect(decodeObjectness(outputs, 4, 3, size, { ...options, iouThreshold: 0.3 })).toHaveLength(1);
  });
});

describe('objectnessOutputs', () => {
  it('computes the head by hand: projection, 3 × 3 and global means, ReLU, output layer', () => {
    // channels 2, hidden 1: z = (f0 − f1) / 2 (inputScale 2); h = relu(z + c − g); o = [h, 2h, 0, 0, −h] + [−1, 0, 0, 0, 0].
    const weights = splitWeights(Float32Array.from([1, -1, 0, 1, 1, -1, 0, 1, 2, 0, 0, -1, -1, 0, 0, 0, 0]), 2, 1, 2);
    // A 2 × 1 map: cell 0 (f0, f1) = (6, 0), cell 1 = (0, 2) → z = [3, −1]; c = [1, 1] (both see each other); g = 1.
    const map = { width: 2, height: 1, channels: 2, features: Float32Array.from([6, 0, 0, 2]) };
    const outputs = objectnessOutputs(weights, map);
    // h0 = relu(3 + 1 − 1) = 3; h1 = relu(−1 + 1 − 1) = 0.
    expect(Array.from(outputs)).toEqual([2, 6, 0, 0, -3, -1, 0, 0, 0, 0]);
  });

  it('refuses a map with another channel count and weights of the wrong length', () => {
    const weights = splitWeights(new Float32Array(2 * 1 + 1 + 3 + 1 + 5 + 5), 2, 1, 6);
    expect(() => objectnessOutputs(weights, { width: 1, height: 1, channels: 3, features: new Float32Array(3) })).toThrow(/3 channels|reads 2/);
    expect(() => splitWeights(new Float32Array(10), 2, 1, 6)).toThrow(/expected 17/);
  });
});

describe('loadObjectnessHead', () => {
  it('loads the built-in head (its pinned sha256 matches)', () => {
    const head = loadObjectnessHead();
    expect(head.channels).toBe(1280);
    expect(head.project.length).toBe(1280 * head.hidden);
  });

  it('refuses weights whose sha256 is not the pinned one', () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'objectness-'));
    fs.writeFileSync(path.join(directory, 'head.bin'), Buffer.alloc(17 * 4));
    const manifest = { id: 'test', version: '1', file: 'head.bin', sha256: '0'.repeat(64), channels: 2, hidden: 1, inputScale: 6 };
    fs.writeFileSync(path.join(directory, 'head.json'), JSON.stringify(manifest));
    expect(() => loadObjectnessHead(path.join(directory, 'head.json'))).toThrow(/sha256/);
    fs.rmSync(directory, { recursive: true });
  });
});
