import type { NextFunction, Request, Response } from 'express';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Embedder } from '../../core/embedding/embedder';
import { reuseMetric } from '../../core/metrics';

/**
 * Latency per route, method and status, and errors by code; the route is the pattern, never the raw path (`unmatched`:
 * no route; `unrouted`: refused before routing). A registry
 * that already has a metric keeps it (several apps may share one registry, as in tests).
 */
export function httpMetrics(registry: Registry) {
  const duration = reuseMetric(registry, 'lookalike_http_request_duration_seconds', () => new Histogram({
    name: 'lookalike_http_request_duration_seconds',
    help: 'HTTP request latency by route, method and status',
    labelNames: ['route', 'method', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  }));
  const errors = reuseMetric(registry, 'lookalike_http_errors_total', () => new Counter({ name: 'lookalike_http_errors_total', help: 'Error responses by stable error code', labelNames: ['code', 'status'], registers: [registry] }));
  return {
    errors,
    middleware(request: Request, response: Response, next: NextFunction): void {
      const end = duration.startTimer();
      response.on('finish', () => {
        // A request answered before any route matched (a key, the rate limit, a body too large) has no pattern: its raw
        // path would give every product id its own series, so it is counted under one label.
        const route = (request.route?.path as string | undefined) ?? (response.statusCode === 404 ? 'unmatched' : 'unrouted');
        end({ route, method: request.method, status: String(response.statusCode) });
      });
      next();
    },
  };
}

export function searchStageMetrics(registry: Registry): Histogram<'stage'> {
  return reuseMetric(registry, 'lookalike_search_stage_seconds', () => new Histogram({
    name: 'lookalike_search_stage_seconds',
    help: 'Search time per stage: decode (and fetch), localize, embed, search (Elasticsearch), rerank, total',
    labelNames: ['stage'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  }));
}

/**
 * Catalog searches (Elasticsearch rounds: a localized photo makes two, its regions' and its chosen regions') by how
 * their catalog was kept: `filtered`, `unfiltered` (the index holds that catalog alone), `rerun`.
 */
export function catalogFilterMetric(registry: Registry): Counter<'way'> {
  return reuseMetric(registry, 'lookalike_search_catalog_filter_total', () => new Counter({
    name: 'lookalike_search_catalog_filter_total',
    help: 'Catalog searches (rounds of requests: a localized photo makes two) by how their catalog was kept: filtered, unfiltered (the index held that catalog alone), rerun (an unfiltered round found another catalog\'s product and ran again filtered)',
    labelNames: ['way'],
    registers: [registry],
  }));
}

/** Hybrid searches by which models proposed their candidates (HYBRID_CANDIDATES; `auto` by the share a filter passes). */
export function hybridCandidatesMetric(registry: Registry): Counter<'way'> {
  return reuseMetric(registry, 'lookalike_search_hybrid_candidates_total', () => new Counter({
    name: 'lookalike_search_hybrid_candidates_total',
    help: "Hybrid catalog searches by which models proposed the candidates: lead (the model weighted most) or all (every model); with HYBRID_CANDIDATES=auto, a filtered search asks every model until the share of the catalog its filters pass is counted",
    labelNames: ['way'],
    registers: [registry],
  }));
}

/**
 * Every run of a model in the API (labels `model`, and `variant`: the model itself or its int8 copy, which ranks a
 * localized photo's regions): the images each run took together, which shows how much dynamic batching joins
 * concurrent searches, and its time.
 */
export function observeModelRuns(registry: Registry, embedder: Embedder): void {
  const images = reuseMetric(registry, 'lookalike_model_run_images', () => new Histogram({
    name: 'lookalike_model_run_images',
    help: 'Images per model run (dynamic batching joins concurrent searches\' photos), by model and variant (model, or its int8 copy)',
    labelNames: ['model', 'variant'],
    buckets: [1, 2, 4, 8, 16, 24, 32],
    registers: [registry],
  }));
  const seconds = reuseMetric(registry, 'lookalike_model_run_seconds', () => new Histogram({
    name: 'lookalike_model_run_seconds',
    help: 'Time per model run, by model and variant (model, or its int8 copy)',
    labelNames: ['model', 'variant'],
    buckets: [0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  }));
  embedder.onRun(({ model, variant, images: n, ms }) => {
    images.observe({ model, variant }, n);
    seconds.observe({ model, variant }, ms / 1000);
  });
}
