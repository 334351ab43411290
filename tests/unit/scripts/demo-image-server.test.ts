import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { createImageServer } from '../../../scripts/demo-stack';

describe('the demo image server', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-images-'));
  const server = createImageServer(dir);
  let base = '';
  let photo: Buffer;

  beforeAll(async () => {
    photo = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#3366cc' } }).jpeg().toBuffer();
    fs.writeFileSync(path.join(dir, 'sku-1.jpg'), photo);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const bytes = async (url: string) => {
    const response = await fetch(url);
    return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
  };
  const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

  it('serves a catalog photo as it is', async () => {
    const { status, body } = await bytes(`${base}/sku-1.jpg`);
    expect(status).toBe(200);
    expect(body.equals(photo)).toBe(true);
  });

  it('serves ?v=<tag> as the same picture with distinct bytes per tag', async () => {
    const a = await bytes(`${base}/sku-1.jpg?v=run1-1`);
    const b = await bytes(`${base}/sku-1.jpg?v=run1-2`);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(new Set([sha(photo), sha(a.body), sha(b.body)]).size).toBe(3);
    const pixels = async (data: Buffer) => (await sharp(data).raw().toBuffer()).toString('hex');
    expect(await pixels(a.body)).toBe(await pixels(photo));
    expect(a.body.includes(Buffer.from('lookalike-variant-run1-1'))).toBe(true);
  });

  it('answers 404 for unknown or unsafe names and 400 for a malformed name or tag', async () => {
    expect((await bytes(`${base}/missing.jpg`)).status).toBe(404);
    expect((await bytes(`${base}/..%2Fetc%2Fpasswd`)).status).toBe(404);
    expect((await bytes(`${base}/%E0%A4%A.jpg`)).status).toBe(400);
    expect((await bytes(`${base}/sku-1.jpg?v=${encodeURIComponent('a b')}`)).status).toBe(400);
  });
});
