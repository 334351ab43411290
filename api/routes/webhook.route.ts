import express, { Router } from 'express';
import { catalogOf, parseWebhookBody } from '../../core/catalog';
import type { Config } from '../../core/config';
import { AppError } from '../../core/errors';
import { SIGNATURE_HEADER, verifySignature } from '../../core/webhook-signature';
import type { IngestService } from '../services/ingest.service';
import { allowedCatalogs, assertCatalogs } from '../middleware/api-keys';

/**
 * POST /v1/webhooks/catalog: the signature is checked over the raw bytes before anything is parsed; then the events
 * are validated (every bad event and field named), deduplicated and enqueued; 202 `{ accepted, duplicates }`.
 */
export function webhookRouter(config: Config, ingest: IngestService): Router {
  const router = Router();
  router.post(
    '/v1/webhooks/catalog',
    express.raw({ type: () => true, limit: config.webhook.maxBytes }),
    async (request, response) => {
      if (config.webhook.secrets.length === 0) {
        throw new AppError('webhooks_disabled', 'webhooks are disabled: no WEBHOOK_SECRETS are configured', 503);
      }
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      verifySignature(request.header(SIGNATURE_HEADER), body, { secrets: config.webhook.secrets, toleranceSeconds: config.webhook.toleranceSeconds });
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        throw new AppError('invalid_json', 'the request body is not valid JSON', 400);
      }
      const events = parseWebhookBody(json);
      // A key bound to catalogs changes only those: one event of another refuses the whole request.
      assertCatalogs(events.map(catalogOf), allowedCatalogs(response));
      const result = await ingest.ingest(events);
      response.status(202).json(result);
    },
  );
  return router;
}
