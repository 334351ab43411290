import { randomUUID } from 'node:crypto';
import { loadConfig, type Config, type Env } from '../../core/config';
import { createDeps, type Deps } from '../../core/deps';
import { createLogger } from '../../core/logger';
import type { VectorFieldSpec } from '../../core/search/catalog-mapping';
import { embeddedPhoto, photoFields } from '../../core/search/photos';

/** A configuration of this test's own: a fresh `test-<uuid>` alias and queue prefix; services from the environment. */
export function testConfig(overrides: Env = {}): Config {
  const id = randomUUID().slice(0, 8);
  return loadConfig({ ...process.env, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', INDEX_ALIAS: `test-${id}`, QUEUE_PREFIX: `test-${id}`, INDEX_REFRESH_INTERVAL: '1s', ...overrides });
}

export function testDeps(config: Config = testConfig()): Deps {
  return createDeps(config, { logger: createLogger(config) });
}

export { seededRandom } from '../../core/random';

export function randomUnitVector(random: () => number, dims: number): number[] {
  const vector = Array.from({ length: dims }, () => random() * 2 - 1);
  const norm = Math.hypot(...vector);
  return vector.map((value) => value / norm);
}

export const BRANDS = ['acme', 'globex', 'initech', 'umbrella'];
export const CATEGORIES = ['shoes', 'shirts', 'bags'];
export const COLORS = ['red', 'blue', 'black', 'white'];
export const SIZES = ['XS', 'S', 'M', 'L', 'XL', '38', '40', '42'];

export interface TestProduct {
  id: string;
  title: string;
  brand: string;
  category: string;
  color: string;
  sizes: string[];
  price: number;
  currency: string;
  available: boolean;
  image_url: string;
}

export function randomProduct(random: () => number, index: number): TestProduct {
  const pick = <T>(values: T[]): T => values[Math.floor(random() * values.length)]!;
  const sizes = SIZES.filter(() => random() < 0.35);
  return {
    id: `p-${index}`,
    title: `Product ${index}`,
    brand: pick(BRANDS),
    category: pick(CATEGORIES),
    color: pick(COLORS),
    sizes,
    price: Math.round(random() * 20000) / 100,
    currency: 'EUR',
    available: random() < 0.6,
    image_url: `http://127.0.0.1/images/${index}.jpg`,
  };
}

export function testModel(modelId = 'test-model', dims = 16, type: VectorFieldSpec['index']['type'] = 'int8_hnsw'): VectorFieldSpec {
  return { modelId, dims, index: { type, m: 16, efConstruction: 100, oversample: 3 } };
}

/** Writes products with one vector each straight into the alias (the indexer's job in production). */
export async function indexProducts(deps: Deps, model: VectorFieldSpec, products: TestProduct[], vectors: number[][]): Promise<void> {
  const operations = products.flatMap((product, position) => [
    { index: { _index: deps.indexManager.alias, _id: product.id } },
    {
      ...product,
      indexed_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
      source_version: 1,
      ...photoFields([embeddedPhoto(product.image_url, `hash-${product.id}`, { [model.modelId]: vectors[position]! }, [{ id: model.modelId, version: '1' }])]),
    },
  ]);
  const response = await deps.es.bulk({ operations, refresh: true });
  if (response.errors) throw new Error(`bulk failed: ${JSON.stringify(response.items.find((item) => Object.values(item)[0]?.error))}`);
}
