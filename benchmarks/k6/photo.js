// Photo search: a multipart upload (part `image`) to POST /v1/search at RATE a second for DURATION, from a pool of
// real photos. POOL=640 (a ~640 px JPEG, what the web page sends) or 12mp (a 4000×3000 phone photo, what API
// clients send); PHOTOS: the pool's manifest. Also one step of the knee finder (benchmarks/lib/load-knee.ts).
import { arrival, loadPhotos, searchPhoto, settings, summary, SUMMARY_TREND_STATS, thresholds } from './lib/lookalike.js';

const pool = __ENV.POOL || '640';
const kind = `photo_${pool}`;
const photos = loadPhotos(__ENV.PHOTOS, Number(__ENV.PHOTOS_PER_VU || 0));

export const options = {
  scenarios: { [kind]: arrival('search', settings.rate, settings.duration) },
  thresholds: thresholds([kind], { errorRate: settings.errorRate, refusedRate: settings.refusedRate, p95: { photo_640: 100, photo_12mp: 300 } }),
  summaryTrendStats: SUMMARY_TREND_STATS,
};

export function search() {
  searchPhoto(photos, kind);
}

export function handleSummary(data) {
  return summary(data, `photo search (${pool})`);
}
