// Search by product id: GET /v1/products/:id/similar at RATE a second for DURATION, over the exported products.
import { arrival, loadProducts, searchSimilar, settings, summary, SUMMARY_TREND_STATS, thresholds } from './lib/lookalike.js';

const products = loadProducts(__ENV.PRODUCTS);

export const options = {
  scenarios: { similar: arrival('search', settings.rate, settings.duration) },
  thresholds: thresholds(['similar'], { errorRate: settings.errorRate, refusedRate: settings.refusedRate, p95: { similar: 100 } }),
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function search() {
  searchSimilar(products);
}

export function handleSummary(data) {
  return summary(data, 'search by product id');
}
