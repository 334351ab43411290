import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { seededRandom } from '../../core/random';
import { distort, type ClipartItem } from '../../benchmarks/lib/clipart';
import { iou } from '../../core/localization/regions';
import { busyBackdrop, serveStampCatalog, stampId, stampScene, type Box } from '../fixtures/stamps';
import { startClipartCatalog, startImageServer, startPipeline, upsert, upsertPhotos, type Pipeline } from './pipeline-helpers';

/** The page in Debian's Chromium, headless: a photo in, the look-alike grid out; screenshots kept as artifacts. */
jest.setTimeout(180_000);
const artifacts = path.resolve(__dirname, '..', '..', 'test-artifacts');
/** Real object photos (tuxpaint stamps) in the catalog besides the drawings, for photos of several products. */
const STAMPS = [
  'household/kettle.png', 'sports/basketball.png', 'vehicles/auto/beetle.png', 'hobbies/camera_35mm.png', 'household/tools/hammer.png',
  'food/fruit/orange.png', 'hobbies/music/brass/trumpet.png', 'animals/mammals/equines/horse.png', 'town/roadsigns/traffic_cone.png', 'plants/mushrooms/cep.png',
];

describe('the web page', () => {
  let p: Pipeline;
  let catalog: Awaited<ReturnType<typeof startClipartCatalog>>;
  let browser: Browser;
  let items: ClipartItem[];
  let photos: Map<string, Buffer>;
  let stamps: Awaited<ReturnType<typeof serveStampCatalog>>;

  beforeAll(async () => {
    catalog = await startClipartCatalog({ perCategory: 2, seed: 21, size: 400 });
    ({ items, photos } = catalog);
    stamps = await serveStampCatalog(STAMPS);
    p = await startPipeline();
    const events = items.map((item, i) => ({
      id: `page-${i}`, type: 'product.upsert', version: 1,
      product: { id: item.id, title: `${item.category} ${i}`, brand: 'acme', price: 10 + i, currency: 'EUR', available: i % 3 !== 0, image_url: catalog.urlOf(item.id) },
    }));
    events.push(...(STAMPS.map((stamp) => upsert(stampId(stamp), 1, stamps.urlOf(stampId(stamp)))) as typeof events));
    expect((await p.post({ events })).status).toBe(202);
    const ids = [...items.map((item) => item.id), ...STAMPS.map(stampId)];
    await p.waitFor(async () => (await Promise.all(ids.map(async (id) => (await p.get(`/v1/products/${encodeURIComponent(id)}/status`)).body.state))).every((s) => s === 'indexed'), 150_000);
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
    stamps?.close();
  });

  /** The product with this title on its card: its id and photo. */
  function byTitle(title: string): { id: string; url: string } {
    const stamp = /^Product (.+)$/.exec(title);
    if (stamp) return { id: stamp[1]!, url: stamps.urlOf(stamp[1]!) };
    const item = items[Number(title.split(' ').pop())]!;
    return { id: item.id, url: catalog.urlOf(item.id) };
  }

  /** The options of every photo search the page sends (the `query` part of its upload), in order. */
  async function recordSearches(page: Page): Promise<() => Promise<any[]>> {
    await page.addInitScript(() => {
      const window = globalThis as any;
      const fetch = window.fetch.bind(window);
      window.searches = [];
      window.fetch = (url: string, init?: { body?: any }) => {
        if (url === '/v1/search' && init?.body instanceof window.FormData) window.searches.push(JSON.parse(init.body.get('query')));
        return fetch(url, init);
      };
    });
    return () => page.evaluate(() => (globalThis as any).searches);
  }

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
    expect(await page.locator('.object-box.selected').isVisible()).toBe(true);
    await page.screenshot({ path: path.join(artifacts, 'page-search.png'), fullPage: true });
    // Filters re-run the search: in stock only.
    await page.check('input[name="available"]');
    await page.waitForFunction(() => [...(globalThis as any).document.querySelectorAll('.badge')].every((b: { textContent: string }) => b.textContent === 'in stock'));
    // "Tell close-ups apart" searches again with the precision stage.
    const precise = page.waitForResponse(async (response) => response.url().endsWith('/v1/search') && ((await response.json().catch(() => null)) as { timings_ms?: { rerank?: number } } | null)?.timings_ms?.rerank !== undefined);
    await page.check('input[name="rerank"]');
    const reranked = (await (await precise).json()) as { results: unknown[]; timings_ms: { rerank: number } };
    expect(reranked.results.length).toBeGreaterThan(0);
    expect(reranked.timings_ms.rerank).toBeGreaterThan(0);
    await page.waitForSelector('.card');
    // "More like this" on the first card: that product's look-alikes replace the grid, the product itself left out.
    const chosen = (await page.locator('.card .title').first().textContent())!;
    const chosenItem = byTitle(chosen);
    const similar = page.waitForResponse((response) => response.url().includes(`/v1/products/${encodeURIComponent(chosenItem.id)}/similar`));
    await page.locator('.card button').first().click();
    expect((await similar).status()).toBe(200);
    await page.waitForFunction((title) => (globalThis as any).document.querySelector('.verdict .message')?.textContent === `More like ${title}:`, chosen, { timeout: 30_000 });
    const titles = await page.locator('.card .title').allTextContents();
    expect(titles.length).toBeGreaterThan(0);
    expect(titles).not.toContain(chosen);
    expect(await page.getAttribute('#preview-img', 'src')).toBe(chosenItem.url);
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

  /** A photo of three catalog products on a busy backdrop, written where the page can choose it; truth in its pixels. */
  async function sceneFile(name: string): Promise<{ file: string; truth: Array<Box & { label: string }> }> {
    const { jpeg, truth } = await stampScene(await busyBackdrop(7), [
      { stamp: 'household/kettle.png', label: 'kettle', left: 20, top: 40, width: 190 },
      { stamp: 'sports/basketball.png', label: 'basketball', left: 240, top: 250, width: 170 },
      { stamp: 'vehicles/auto/beetle.png', label: 'beetle', left: 420, top: 40, width: 200 },
    ]);
    const file = path.join(os.tmpdir(), `lookalike-page-${name}-${process.pid}.jpg`);
    fs.writeFileSync(file, jpeg);
    return { file, truth };
  }

  /** Where each object box is drawn, relative to the photo on screen, and the photo's size there. */
  async function drawnBoxes(page: Page): Promise<{ image: { width: number; height: number }; boxes: Array<Box & { index: number; selected: boolean; label: string; ariaLabel: string }> }> {
    return page.evaluate(() => {
      const document = (globalThis as any).document;
      const image = document.querySelector('#preview-img').getBoundingClientRect();
      const boxes = [...document.querySelectorAll('.object-box')].map((element: any) => {
        const rect = element.getBoundingClientRect();
        return {
          index: Number(element.dataset.index), left: rect.left - image.left, top: rect.top - image.top, width: rect.width, height: rect.height,
          selected: element.getAttribute('aria-pressed') === 'true' && element.classList.contains('selected'), label: element.textContent, ariaLabel: element.getAttribute('aria-label'),
        };
      });
      return { image: { width: image.width, height: image.height }, boxes };
    });
  }

  const scaled = (box: Box, k: number): Box => ({ left: box.left * k, top: box.top * k, width: box.width * k, height: box.height * k });
  const firstTitle = (page: Page) => page.locator('.card .title').first().textContent();

  /** A new page with a scene photo of several products chosen: the page, its errors, its searches and the answer. */
  async function choosePhoto(name: string) {
    const { file, truth } = await sceneFile(name);
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    const searches = await recordSearches(page);
    await page.goto(`${p.apiUrl}/`);
    const searched = page.waitForResponse((response) => response.url().endsWith('/v1/search'));
    await page.setInputFiles('#file', file);
    return { file, truth, page, problems, searches, response: await searched };
  }

  it('a photo of several products: a box on each, the main one selected; a click on a box shows that product first', async () => {
    const { file, truth, page, problems, searches, response } = await choosePhoto('objects');
    expect(await searches()).toEqual([{ k: 24, filters: {}, objects: true }]);
    const body = await response.json();
    await page.waitForSelector('.card');
    const { image, boxes } = await drawnBoxes(page);
    // The page uploads the 640×480 photo resized to 512×384: the answer's boxes are in those pixels.
    const uploaded = 512 / 640;
    const onScreen = image.width / 512;
    expect(image.height / 384).toBeCloseTo(onScreen, 2);
    expect(boxes).toHaveLength(body.objects.length);
    body.objects.forEach((object: { box: Box; label: string | null }, i: number) => {
      const drawn = boxes[i]!;
      for (const side of ['left', 'top', 'width', 'height'] as const) expect(Math.abs(drawn[side] - object.box[side] * onScreen)).toBeLessThan(1.5);
      expect(drawn.label).toBe(object.label ?? `object ${i + 1}`);
      expect(drawn.ariaLabel).toContain(drawn.label);
    });
    // One box over each product placed, with that product first among its results.
    for (const placed of truth) {
      const truthOnScreen = scaled(placed, uploaded * onScreen);
      const i = body.objects.findIndex((object: { box: Box; results: Array<{ id: string }> }, j: number) => object.results[0]?.id === placed.label && iou(boxes[j]!, truthOnScreen) >= 0.5);
      expect({ product: placed.label, boxed: i >= 0 }).toEqual({ product: placed.label, boxed: true });
    }
    // The main object (the one the top-level results are for) is selected at first.
    const main = body.objects.findIndex((object: { box: Box }) => ['left', 'top', 'width', 'height'].every((side) => (object.box as any)[side] === body.query.crop[side]));
    expect(boxes.filter((box) => box.selected).map((box) => box.index)).toEqual([Math.max(main, 0)]);
    expect(await firstTitle(page)).toBe(`Product ${body.results[0].id}`);
    await page.screenshot({ path: path.join(artifacts, 'page-objects.png'), fullPage: true });
    // A click on each product's box shows that object's results, with its verdict; the box is the selected one.
    for (const placed of truth) {
      const i = body.objects.findIndex((object: { box: Box; results: Array<{ id: string }> }, j: number) => object.results[0]?.id === placed.label && iou(boxes[j]!, scaled(placed, uploaded * onScreen)) >= 0.5);
      await page.click(`.object-box[data-index="${i}"]`);
      expect(await firstTitle(page)).toBe(`Product ${placed.label}`);
      expect(await page.locator('.verdict .message').textContent()).toBe(WORDING[body.objects[i].match as keyof typeof WORDING]);
      expect((await drawnBoxes(page)).boxes.filter((box) => box.selected).map((box) => box.index)).toEqual([i]);
    }
    // Boxes are buttons in the tab order: Enter on a focused one selects it.
    await page.focus('.object-box[data-index="0"]');
    await page.keyboard.press('Enter');
    expect(await page.getAttribute('.object-box[data-index="0"]', 'aria-pressed')).toBe('true');
    expect(await firstTitle(page)).toBe(`Product ${body.objects[0].results[0].id}`);
    // The boxes follow the photo when the window (and so the preview) changes size.
    await page.setViewportSize({ width: 600, height: 900 });
    await page.waitForFunction(() => {
      const document = (globalThis as any).document;
      return Math.abs(document.querySelector('#preview-img').getBoundingClientRect().width - document.querySelector('#preview').getBoundingClientRect().width) < 1;
    });
    const resized = await drawnBoxes(page);
    const k = resized.image.width / 512;
    body.objects.forEach((object: { box: Box }, i: number) => expect(Math.abs(resized.boxes[i]!.left - object.box.left * k)).toBeLessThan(1.5));
    expect(problems).toEqual([]);
    fs.rmSync(file);
  });

  it('a box drawn by hand on the photo is searched: that product first, the drawn box selected; Esc or a click without a drag searches nothing', async () => {
    const { file, truth, page, problems, searches } = await choosePhoto('draw');
    await page.waitForSelector('.object-box');
    const image = (await page.locator('#preview-img').boundingBox())!;
    const k = image.width / 640;
    const at = (x: number, y: number) => [image.x + x * k, image.y + y * k] as const;
    // Esc during a drag, and a click without one, search nothing.
    await page.mouse.move(...at(5, 5));
    await page.mouse.down();
    await page.mouse.move(...at(200, 200), { steps: 5 });
    await page.keyboard.press('Escape');
    await page.mouse.up();
    await page.mouse.click(...at(630, 470));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await searches()).toHaveLength(1);
    expect(await page.locator('.object-box.drawn').count()).toBe(0);
    // A box dragged around the basketball, 8 photo px beyond it on each side.
    const ball = truth.find((placed) => placed.label === 'basketball')!;
    const drawnSearch = page.waitForResponse((response) => response.url().endsWith('/v1/search'));
    await page.mouse.move(...at(ball.left - 8, ball.top - 8));
    await page.mouse.down();
    await page.mouse.move(...at(ball.left + ball.width + 8, ball.top + ball.height + 8), { steps: 8 });
    await page.mouse.up();
    const answer = await (await drawnSearch).json();
    const asked = (await searches())[1];
    expect(Object.keys(asked).sort()).toEqual(['box', 'filters', 'k']);
    // In the uploaded image's pixels (512/640 of the photo's), within a pixel or two of what was dragged.
    const expected = scaled({ left: ball.left - 8, top: ball.top - 8, width: ball.width + 16, height: ball.height + 16 }, 512 / 640);
    for (const side of ['left', 'top', 'width', 'height'] as const) expect(Math.abs(asked.box[side] - expected[side])).toBeLessThanOrEqual(2);
    expect(answer.query.crop).toEqual(asked.box);
    expect(answer.results[0].id).toBe('basketball');
    await page.waitForFunction(() => (globalThis as any).document.querySelector('.card .title')?.textContent === 'Product basketball');
    const drawn = (await drawnBoxes(page)).boxes.filter((box) => box.selected);
    expect(drawn).toHaveLength(1);
    expect(await page.locator(`.object-box[data-index="${drawn[0]!.index}"]`).getAttribute('class')).toContain('drawn');
    expect(iou(drawn[0]!, scaled({ left: ball.left - 8, top: ball.top - 8, width: ball.width + 16, height: ball.height + 16 }, k))).toBeGreaterThan(0.9);
    await page.screenshot({ path: path.join(artifacts, 'page-drawn-box.png'), fullPage: true });
    // A drag too small to be a box searches nothing.
    await page.mouse.move(...at(100, 300));
    await page.mouse.down();
    await page.mouse.move(...at(125, 308), { steps: 3 });
    await page.mouse.up();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await searches()).toHaveLength(2);
    expect(problems).toEqual([]);
    fs.rmSync(file);
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
    // A photo of several products: the boxes fit the screen, and a box drawn with a finger is searched.
    const { file, truth } = await sceneFile('phone');
    const searched = page.waitForResponse((response) => response.url().endsWith('/v1/search'));
    await page.setInputFiles('#file', file);
    await searched;
    await page.waitForSelector('.object-box');
    expect(await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth as number)).toBeLessThanOrEqual(390);
    const image = (await page.locator('#preview-img').boundingBox())!;
    const k = image.width / 640;
    const ball = truth.find((placed) => placed.label === 'basketball')!;
    const finger = (x: number, y: number) => [{ x: image.x + x * k, y: image.y + y * k, id: 1 }];
    const touch = await page.context().newCDPSession(page);
    const drawnSearch = page.waitForResponse((response) => response.url().endsWith('/v1/search'));
    await touch.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: finger(ball.left - 6, ball.top - 6) });
    for (let step = 1; step <= 6; step++) {
      await touch.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: finger(ball.left - 6 + ((ball.width + 12) * step) / 6, ball.top - 6 + ((ball.height + 12) * step) / 6) });
    }
    await touch.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    expect((await (await drawnSearch).json()).results[0].id).toBe('basketball');
    await page.waitForFunction(() => (globalThis as any).document.querySelector('.card .title')?.textContent === 'Product basketball');
    expect(await page.locator('.object-box.drawn.selected').count()).toBe(1);
    await page.screenshot({ path: path.join(artifacts, 'page-phone-objects.png'), fullPage: true });
    fs.rmSync(file);
  });

  it('"load more" pages the results, "less like this" steers away from a product, and a catalog can be chosen', async () => {
    expect(items.length + STAMPS.length).toBeGreaterThan(24);
    const item = items[3]!;
    const queryFile = path.join(os.tmpdir(), `lookalike-page-more-${process.pid}.jpg`);
    fs.writeFileSync(queryFile, photos.get(item.id)!);
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${p.apiUrl}/`);
    // Only the default catalog: nothing to choose.
    expect(await page.locator('#catalog-field').isHidden()).toBe(true);
    const searched = page.waitForResponse((response) => response.url().endsWith('/v1/search'));
    await page.setInputFiles('#file', queryFile);
    await searched;
    await page.waitForSelector('.card');
    const cardIds = () => page.locator('.card').evaluateAll((cards) => cards.map((card: any) => card.dataset.id as string));
    expect(await cardIds()).toHaveLength(24);
    // Load more: the next page appended, no card twice.
    const more = page.waitForResponse((response) => response.url().endsWith('/v1/search') && response.request().postData()?.includes('"cursor"') === true);
    await page.click('.load-more');
    expect((await more).status()).toBe(200);
    await page.waitForFunction((n) => (globalThis as any).document.querySelectorAll('.card').length > n, 24);
    const all = await cardIds();
    expect(new Set(all).size).toBe(all.length);
    expect(await page.locator('.verdict .count').textContent()).toMatch(new RegExp(`^${all.length} results`));
    // Less like this on the first result: the query runs again with it in `unlike`, and it leaves the grid.
    const first = all[0]!;
    const steered = page.waitForResponse((response) => response.url().endsWith('/v1/search') && response.request().postData()?.includes('"unlike"') === true);
    await page.locator('.card button.less').first().click();
    const request = JSON.parse((await steered).request().postData()!);
    expect(request).toMatchObject({ query_id: expect.any(String), unlike: [{ product_id: first }] });
    await page.waitForFunction((id) => ![...(globalThis as any).document.querySelectorAll('.card')].some((card: any) => card.dataset.id === id), first);
    await page.screenshot({ path: path.join(artifacts, 'page-load-more.png'), fullPage: true });
    // A second catalog: the page offers the choice, and a search in it shows its products only.
    expect((await p.post(upsert('x-1', 1, catalog.urlOf(items[5]!.id), { catalog: 'store-x', title: 'In store X' }))).status).toBe(202);
    await p.waitFor(async () => (await p.status.get('store-x x-1'))?.state === 'indexed');
    await page.reload();
    await page.waitForSelector('#catalog-field:not([hidden])');
    expect(await page.locator('#catalog option').allTextContents()).toEqual([`default (${items.length + STAMPS.length})`, 'store-x (1)']);
    await page.setInputFiles('#file', queryFile);
    await page.waitForSelector('.card');
    const inX = page.waitForResponse((response) => response.url().endsWith('/v1/search'));
    await page.selectOption('#catalog', 'store-x');
    expect((await inX).status()).toBe(200);
    await page.waitForFunction(() => [...(globalThis as any).document.querySelectorAll('.card .title')].map((t: any) => t.textContent).join() === 'In store X');
    expect(problems).toEqual([]);
    fs.rmSync(queryFile);
  });
  it('a product with several photos: its card shows the photo that matched, and its other photos as thumbnails', async () => {
    const server = await startImageServer();
    try {
      const urls = [`${server.url}/img/501.jpg`, `${server.url}/img/502.jpg`, `${server.url}/img/503.jpg`];
      expect((await p.post(upsertPhotos('multi-photo', 1, urls, { title: 'Three photos' }))).status).toBe(202);
      await p.waitFor(async () => (await p.status.get('multi-photo'))?.state === 'indexed');
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      await page.goto(`${p.apiUrl}/`);
      const searched = page.waitForResponse((response) => response.url().endsWith('/v1/search'));
      await page.fill('#url', urls[1]!);
      await page.click('#url-form button');
      expect((await (await searched).json()).results[0]).toMatchObject({ id: 'multi-photo', matched_image: 1 });
      const card = page.locator('.card[data-id="multi-photo"]');
      await card.waitFor();
      // The large photo is the second one, the one that matched; the thumbnails are all three, the second marked.
      expect(await card.locator('img.photo').getAttribute('src')).toBe(urls[1]);
      expect(await card.locator('.thumb img').evaluateAll((imgs) => imgs.map((img: any) => img.getAttribute('src')))).toEqual(urls);
      expect(await card.locator('.thumb').evaluateAll((thumbs) => thumbs.map((thumb: any) => thumb.classList.contains('matched')))).toEqual([false, true, false]);
      // A click on another thumbnail shows that photo large.
      await card.locator('.thumb').nth(2).click();
      expect(await card.locator('img.photo').getAttribute('src')).toBe(urls[2]);
      await page.screenshot({ path: path.join(artifacts, 'page-photos.png') });
      await page.close();
    } finally {
      await server.close();
    }
  });
});
