// Raw-vector search: POST /v1/search with JSON `vector` (a real product's efficientnet-lite0 vector, exported from
// Elasticsearch by the wrapper) at RATE a second for DURATION.
import { arrival, loadProducts, searchVector, settings, summary, SUMMARY_TREND_STATS, thresholds } from './lib/lookalike.js';

const products = loadProducts(__ENV.PRODUCTS);

export const options = {
  scenarios: { vector: arrival('search', settings.rate, settings.duration) },
  thresholds: thresholds(['vector'], { errorRate: settings.errorRate, refusedRate: settings.refusedRate, p95: { vector: 100 } }),
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function search() {
  searchVector(products);
}

export function handleSummary(data) {
  return summary(data, 'raw-vector search');
}
