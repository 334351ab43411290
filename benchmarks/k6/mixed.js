// Searches while the catalog changes: searches at RATE a second (3 in 5 a 640 px photo, 1 by product id, 1 by
// vector), new products at NEW_RATE (default 1) and price changes at PRICE_RATE (default 2) a second, each through
// the signed webhook. Freshness: the time from the webhook's 202 to GET /v1/products/:id/status saying indexed at the
// version sent (freshness_ms{kind:new|price}). New products' images come from the stack's image server with a
// distinct `?v=`, so each is fetched and embedded as a new image.
import exec from 'k6/execution';
import { arrival, loadPhotos, loadProducts, newProductEvent, priceChangeEvent, searchPhoto, searchSimilar, searchVector, sendAndWait, settings, summary, SUMMARY_TREND_STATS, thresholds } from './lib/lookalike.js';

const photos = loadPhotos(__ENV.PHOTOS, 0);
const products = loadProducts(__ENV.PRODUCTS);
const newRate = Number(__ENV.NEW_RATE || 1);
const priceRate = Number(__ENV.PRICE_RATE || 2);
const freshnessP95 = Number(__ENV.FRESHNESS_P95_MS || 2000);

export const options = {
  scenarios: {
    searches: arrival('search', settings.rate, settings.duration),
    new_products: arrival('newProduct', newRate, settings.duration),
    price_changes: arrival('priceChange', priceRate, settings.duration),
  },
  thresholds: Object.assign(
    thresholds(['photo_640', 'similar', 'vector', 'webhook', 'status'], { errorRate: settings.errorRate, refusedRate: settings.refusedRate, p95: { photo_640: 100, similar: 100, vector: 100, webhook: 100, status: 100 } }),
    {
      'freshness_ms{kind:new}': [`p(95)<${freshnessP95}`],
      'freshness_ms{kind:price}': [`p(95)<${freshnessP95}`],
      'freshness_timeouts{kind:new}': ['rate==0'],
      'freshness_timeouts{kind:price}': ['rate==0'],
    },
  ),
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function search() {
  const n = exec.scenario.iterationInTest % 5;
  if (n < 3) searchPhoto(photos, 'photo_640');
  else if (n === 3) searchSimilar(products);
  else searchVector(products);
}

export function newProduct() {
  sendAndWait(() => newProductEvent(products, exec.scenario.iterationInTest), 'new');
}

export function priceChange() {
  sendAndWait(() => priceChangeEvent(products, exec.scenario.iterationInTest), 'price');
}

export function handleSummary(data) {
  return summary(data, 'mixed: searches with new products and price changes');
}
