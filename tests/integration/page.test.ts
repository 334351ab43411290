import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { seededRandom } from '../../core/random';
import { distort, type ClipartItem } from '../../benchmarks/lib/clipart';
import { startClipartCatalog, startPipeline, type Pipeline } from './pipeline-helpers';

/** The page in Debian's Chromium, headless: a photo in, the look-alike grid out; screenshots kept as artifacts. */
jest.setTimeout(180_000);
const artifacts = path.resolve(__dirname, '..', '..', 'test-artifacts');

describe('the web page', () => {
  let p: Pipeline;
  let catalog: Awaited<ReturnType<typeof startClipartCatalog>>;
  let browser: Browser;
  let items: ClipartItem[];
  let photos: Map<string, Buffer>;

  beforeAll(async () => {
    catalog = await startClipartCatalog({ perCategory: 2, seed: 21, size: 400 });
    ({ items, photos } = catalog);
    p = await startPipeline();
    const events = items.map((item, i) => ({
      id: `page-${i}`, type: 'product.upsert', version: 1,
      product: { id: item.id, title: `${item.category} ${i}`, brand: 'acme', price: 10 + i, currency: 'EUR', available: i % 3 !== 0, image_url: catalog.urlOf(item.id) },
    }));
    expect((await p.post({ events })).status).toBe(202);
    await p.waitFor(async () => (await Promise.all(items.map(async (item) => (await p.get(`/v1/products/${encodeURIComponent(item.id)}/status`)).body.state))).every((s) => s === 'indexed'), 120_000);
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    fs.mkdirSync(artifacts, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await p?.close();
    catalog?.close();
  });

  it('a chosen photo gives a grid of look-alikes, the item first, with the crop drawn; "more like this" works', async () => {
    const item = items[3]!;
    const queryFile = path.join(os.tmpdir(), `lookalike-page-${process.pid}.jpg`);
    fs.writeFileSync(queryFile, await distort(item.file, photos.get(item.id)!, 'blur', seededRandom(4)));
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${p.apiUrl}/`);
    await page.setInputFiles('#file', queryFile);
    await page.waitForSelector('.card');
    expect(await page.locator('.card .title').first().textContent()).toBe(`${item.category} 3`);
    expect(await page.locator('.card').count()).toBeGreaterThan(5);
    expect(await page.locator('#crop').isHidden()).toBe(false);
    await page.screenshot({ path: path.join(artifacts, 'page-search.png'), fullPage: true });
    // Filters re-run the search: in stock only.
    await page.check('input[name="available"]');
    await page.waitForFunction(() => [...(globalThis as any).document.querySelectorAll('.badge')].every((b: { textContent: string }) => b.textContent === 'in stock'));
    await page.locator('.card button').first().click();
    await page.waitForSelector('.card');
    expect(problems).toEqual([]);
    fs.rmSync(queryFile);
  });

  it('is usable on a phone-sized screen', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await page.goto(`${p.apiUrl}/`);
    const width = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth as number);
    expect(width).toBeLessThanOrEqual(390);
    await page.fill('#url', 'http://169.254.169.254/latest/meta-data/');
    await page.click('#url-form button');
    await page.waitForSelector('.status.error');
    expect(await page.textContent('.status')).toContain('fetch_blocked_address');
    await page.screenshot({ path: path.join(artifacts, 'page-phone.png'), fullPage: true });
  });
});
