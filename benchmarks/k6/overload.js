// Overload: 640 px photo searches at RATE a second (meant: 3× the knee), with a liveness probe (GET /healthz, once a
// second, answered within 2 s). Under overload the API may refuse with 503 `overloaded` and Retry-After: those are
// counted as refused (their own rate), not as errors, and admitted_ms holds the latency of the requests it served.
// Thresholds: errors under ERROR_RATE, admitted p95 under OVERLOAD_P95_MS (200), the probe always answered.
import { arrival, loadPhotos, probeHealth, searchPhoto, settings, summary, SUMMARY_TREND_STATS, thresholds } from './lib/lookalike.js';

const pool = __ENV.POOL || '640';
const kind = `photo_${pool}`;
const photos = loadPhotos(__ENV.PHOTOS, Number(__ENV.PHOTOS_PER_VU || 0));

export const options = {
  scenarios: {
    [kind]: arrival('search', settings.rate, settings.duration),
    health: arrival('probe', 1, settings.duration, { maxVUs: 5, preAllocatedVUs: 3 }),
  },
  thresholds: Object.assign(thresholds([kind], { errorRate: settings.errorRate, p95: { [kind]: Number(__ENV.OVERLOAD_P95_MS || 200) } }), { healthy: ['rate==1'] }),
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function search() {
  searchPhoto(photos, kind);
}

export function probe() {
  probeHealth();
}

export function handleSummary(data) {
  return summary(data, `overload: photo search (${pool}) at ${settings.rate}/s`);
}
