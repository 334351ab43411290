// Smoke: every request kind at a low rate for DURATION (default 15s): photo searches from both pools (640 px and
// 12 MP), search by product id, raw-vector search, a price change and a new product through the signed webhook (each
// followed until its status says indexed), and the liveness probe. Any error fails it; the p95 limits are loose
// (a shared 2-core CI machine), there to catch a request kind that became an order of magnitude slower.
import exec from 'k6/execution';
import { arrival, loadPhotos, loadProducts, newProductEvent, priceChangeEvent, probeHealth, searchPhoto, searchSimilar, searchVector, sendAndWait, settings, summary, SUMMARY_TREND_STATS, thresholds } from './lib/lookalike.js';

const duration = __ENV.DURATION || '15s';
const photos640 = loadPhotos(__ENV.PHOTOS_640, 0);
const photos12mp = loadPhotos(__ENV.PHOTOS_12MP, 2);
const products = loadProducts(__ENV.PRODUCTS);

export const options = {
  scenarios: {
    photo_640: arrival('photo640', 1, duration),
    photo_12mp: arrival('photo12mp', 0.5, duration),
    similar: arrival('similar', 1, duration),
    vector: arrival('vector', 1, duration),
    price_change: arrival('priceChange', 0.5, duration),
    new_product: arrival('newProduct', 0.5, duration),
    health: arrival('probe', 1, duration),
  },
  thresholds: Object.assign(
    thresholds(['photo_640', 'photo_12mp', 'similar', 'vector', 'webhook', 'status'], { errorRate: 0, refusedRate: 0, p95: { photo_640: 1000, photo_12mp: 3000, similar: 1000, vector: 1000, webhook: 1000, status: 1000 } }),
    {
      'freshness_timeouts{kind:new}': ['rate==0'],
      'freshness_timeouts{kind:price}': ['rate==0'],
      'freshness_ms{kind:new}': ['p(95)<15000'],
      'freshness_ms{kind:price}': ['p(95)<15000'],
      healthy: ['rate==1'],
    },
  ),
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export const photo640 = () => searchPhoto(photos640, 'photo_640');
export const photo12mp = () => searchPhoto(photos12mp, 'photo_12mp');
export const similar = () => searchSimilar(products);
export const vector = () => searchVector(products);
export const priceChange = () => sendAndWait(() => priceChangeEvent(products, exec.scenario.iterationInTest), 'price');
export const newProduct = () => sendAndWait(() => newProductEvent(products, exec.scenario.iterationInTest), 'new');
export const probe = () => probeHealth();

export function handleSummary(data) {
  return summary(data, 'smoke: every request kind');
}
