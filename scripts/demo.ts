/**
 * The demo: a catalog of real images (Debian's openclipart-png drawings rendered as product photos, with brands,
 * prices, sizes, colours and availability), served from 127.0.0.1, indexed through the real signed-webhook → queue →
 * indexer path, then the API (and its page) left running. A second run reuses the photos and the index: the events
 * are duplicates, nothing is embedded again, and it is ready in seconds. The stack itself: scripts/demo-stack.ts.
 *
 * DEMO_PER_CATEGORY (default 200), API_PORT (8080), DEMO_IMAGE_PORT (8090). Ctrl-C stops the API and the indexer;
 * `npm run services:down` stops Elasticsearch and Redis.
 */
import { DEMO_IMAGES_DIR, startDemoStack, type DemoStack } from './demo-stack';

let stack: DemoStack | null = null;

async function main(): Promise<void> {
  stack = await startDemoStack({
    perCategory: Number(process.env.DEMO_PER_CATEGORY ?? 200),
    alias: 'demo-products',
    queuePrefix: 'demo',
    apiPort: Number(process.env.API_PORT ?? 8080),
    imagePort: Number(process.env.DEMO_IMAGE_PORT ?? 8090),
  });
  const running = stack;
  const stop = () => void running.stop().finally(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  void running.exited.then((line) => {
    console.error(line);
    stop();
  });
  await running.indexCatalog();
  const example = running.exampleFile ? `; several products in one photo: ${running.exampleFile}` : '';
  process.stdout.write(`\nLookalike is running at ${running.api}/  (${running.catalog.length} products; photos to try: ${DEMO_IMAGES_DIR}${example})\nCtrl-C stops the API and the indexer; npm run services:down stops Elasticsearch and Redis.\n`);
}

main().catch(async (error: unknown) => {
  console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
  await stack?.stop();
  process.exit(1);
});
