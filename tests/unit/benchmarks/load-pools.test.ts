import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { reusePools } from '../../../benchmarks/lib/load-inputs';

describe('the load test photo pools, reused', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pools-'));
  const manifests = { '640': path.join(base, 'pool-640.json'), '12mp': path.join(base, 'pool-12mp.json') };
  const write = (pool: '640' | '12mp', files: string[]): void => fs.writeFileSync(manifests[pool], JSON.stringify({ files }));
  afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

  it('points manifests written by a checkout elsewhere at the photos here', () => {
    for (const name of ['a-640.jpg', 'a-12mp.jpg']) fs.writeFileSync(path.join(base, name), 'jpeg');
    write('640', ['/elsewhere/.cache/load/photos-v1/a-640.jpg']);
    write('12mp', [path.join(base, 'a-12mp.jpg')]);
    expect(reusePools(base, manifests)).toBe(true);
    expect(JSON.parse(fs.readFileSync(manifests['640'], 'utf8'))).toEqual({ files: [path.join(base, 'a-640.jpg')] });
  });

  it('builds them again when a photo is missing or a manifest is empty', () => {
    write('640', [path.join(base, 'missing-640.jpg')]);
    expect(reusePools(base, manifests)).toBe(false);
    write('640', []);
    expect(reusePools(base, manifests)).toBe(false);
  });
});
