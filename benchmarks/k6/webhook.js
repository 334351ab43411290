// Catalog webhooks: price and stock changes of catalog products, BATCH events per signed request (HMAC-SHA256 with
// WEBHOOK_SECRET, signed here with k6/crypto), at RATE requests a second for DURATION. Measures the webhook's answer
// (202 once the events are stored); what became of them is the mixed scenario's freshness.
import { arrival, loadProducts, postWebhook, priceChangeEvent, settings, summary, SUMMARY_TREND_STATS, thresholds } from './lib/lookalike.js';
import exec from 'k6/execution';

const products = loadProducts(__ENV.PRODUCTS);
const batch = Math.max(1, Math.min(500, Number(__ENV.BATCH || 1)));

export const options = {
  scenarios: { webhook: arrival('send', settings.rate, settings.duration) },
  thresholds: thresholds(['webhook'], { errorRate: settings.errorRate, refusedRate: settings.refusedRate, p95: { webhook: 100 } }),
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function send() {
  const first = exec.scenario.iterationInTest * batch;
  postWebhook(Array.from({ length: batch }, (_, i) => priceChangeEvent(products, first + i)));
}

export function handleSummary(data) {
  return summary(data, `catalog webhooks (${batch} event${batch === 1 ? '' : 's'} each)`);
}
