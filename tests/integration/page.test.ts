import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
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

  /** What the page says above the results for each verdict (api/public/app.js). */
  const WORDING = {
    good: 'Best match: very likely the product in your photo.',
    weak: 'Closest match: it looks like your photo, but may not be the same product.',
    none: 'Probably not in the catalog. The most similar items:',
  } as const;

  /** The children of #results in order: the verdict line, cards by title, and the "Similar items" heading. */
  async function layout(page: Page): Promise<string[]> {
    return page.locator('#results > *').evaluateAll((elements) =>
      elements.map((element: any) => (element.classList.contains('card') ? `card ${element.querySelector('.title').textContent}` : `${element.className}: ${element.querySelector('.message')?.textContent ?? element.textContent}`)),
    );
  }

  it('a chosen photo gives a grid of look-alikes, the item first, with the crop drawn; "more like this" shows the look-alikes of that product', async () => {
    const item = items[3]!;
    const queryFile = path.join(os.tmpdir(), `lookalike-page-${process.pid}.jpg`);
    fs.writeFileSync(queryFile, await distort(item.file, photos.get(item.id)!, 'blur', seededRandom(4)));
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${p.apiUrl}/`);
    const searched = page.waitForResponse((response) => response.url().endsWith('/v1/search'));
    await page.setInputFiles('#file', queryFile);
    const { match } = (await (await searched).json()) as { match: keyof typeof WORDING };
    await page.waitForSelector('.card');
    expect(await page.locator('.card .title').first().textContent()).toBe(`${item.category} 3`);
    expect(await page.locator('.card').count()).toBeGreaterThan(5);
    expect(await page.locator('.verdict .message').textContent()).toBe(WORDING[match]);
    expect(await page.locator('#crop').isHidden()).toBe(false);
    await page.screenshot({ path: path.join(artifacts, 'page-search.png'), fullPage: true });
    // Filters re-run the search: in stock only.
    await page.check('input[name="available"]');
    await page.waitForFunction(() => [...(globalThis as any).document.querySelectorAll('.badge')].every((b: { textContent: string }) => b.textContent === 'in stock'));
    // "More like this" on the first card: that product's look-alikes replace the grid, the product itself left out.
    const chosen = (await page.locator('.card .title').first().textContent())!;
    const chosenItem = items[Number(chosen.split(' ').pop())]!;
    const similar = page.waitForResponse((response) => response.url().includes(`/v1/products/${encodeURIComponent(chosenItem.id)}/similar`));
    await page.locator('.card button').first().click();
    expect((await similar).status()).toBe(200);
    await page.waitForFunction((title) => (globalThis as any).document.querySelector('.verdict .message')?.textContent === `More like ${title}:`, chosen, { timeout: 30_000 });
    const titles = await page.locator('.card .title').allTextContents();
    expect(titles.length).toBeGreaterThan(0);
    expect(titles).not.toContain(chosen);
    expect(await page.getAttribute('#preview-img', 'src')).toBe(catalog.urlOf(chosenItem.id));
    expect(await page.locator('.group').count()).toBe(0);
    expect(problems).toEqual([]);
    fs.rmSync(queryFile);
  });

  it('says what the verdict is about: the first result (the product photographed, or not), then similar items', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(`${p.apiUrl}/`);
    const product = (i: number) => ({ id: items[i]!.id, score: 0.9 - i / 100, product: { title: `${items[i]!.category} ${i}`, image_url: catalog.urlOf(items[i]!.id), available: true } });
    for (const match of ['good', 'weak', 'none'] as const) {
      // The page alone: the search answers with this verdict over three results.
      await page.route('**/v1/search', (route) => route.fulfill({ json: { results: [0, 1, 2].map(product), match, query: { crop: null, models: [] }, timings_ms: { decode: 1, embed: 1, search: 1, total: 3 } } }));
      await page.fill('#url', catalog.urlOf(items[0]!.id));
      await page.click('#url-form button');
      await page.waitForFunction((expected) => (globalThis as any).document.querySelector('.verdict .message')?.textContent === expected, WORDING[match], { timeout: 30_000 });
      const cards = [0, 1, 2].map((i) => `card ${items[i]!.category} ${i}`);
      const verdictLine = `verdict: ${WORDING[match]}`;
      // good and weak: the first result on its own, then the similar items under their heading; none: just the nearest.
      expect(await layout(page)).toEqual(match === 'none' ? [verdictLine, ...cards] : [verdictLine, cards[0], 'group: Similar items', ...cards.slice(1)]);
      expect(await page.locator('.verdict .count').textContent()).toBe('3 results in 3 ms');
      await page.screenshot({ path: path.join(artifacts, `page-verdict-${match}.png`), fullPage: true });
      await page.unroute('**/v1/search');
    }
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
