import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RowFile } from '../../../benchmarks/lib/vector-cache';

describe('RowFile', () => {
  let directory: string;
  beforeEach(() => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'rowfile-'));
  });
  afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

  it('appends rows and reads any range of them back, as the next run finds them', () => {
    const base = path.join(directory, 'nested', 'm');
    const file = RowFile.open(base, 'k1', 3);
    file.append(Float32Array.from([1, 2, 3, 4, 5, 6]));
    file.append(Float32Array.from([7, 8, 9]));
    const again = RowFile.open(base, 'k1', 3);
    expect(again.rows).toBe(3);
    expect(Array.from(again.read(1, 5))).toEqual([4, 5, 6, 7, 8, 9]);
    expect(() => again.append(Float32Array.from([1, 2]))).toThrow('whole rows');
  });

  it('starts empty when the rows were made from something else, and drops a half-written row', () => {
    const base = path.join(directory, 'm');
    RowFile.open(base, 'k1', 2).append(Float32Array.from([1, 2, 3, 4]));
    // A run killed in the middle of a row.
    fs.appendFileSync(`${base}.f32`, Buffer.alloc(4));
    expect(RowFile.open(base, 'k1', 2).rows).toBe(2);
    expect(fs.statSync(`${base}.f32`).size).toBe(16);
    expect(RowFile.open(base, 'k2', 2).rows).toBe(0);
  });

  it('write: a matrix that looks complete only once it is', () => {
    const base = path.join(directory, 'w');
    RowFile.write(base, 'k', 2, Float32Array.from([1, 2, 3, 4]));
    expect(Array.from(RowFile.open(base, 'k', 2).read(0, 9))).toEqual([1, 2, 3, 4]);
  });
});
