import type { Client } from '@elastic/elasticsearch';
import type { VectorIndexType } from '../../core/config';

/**
 * What a catalog index takes on disk and in memory: the store size, each vector field's share of the disk
 * (`_disk_usage`), and the files that approximate kNN reads on every search (`_stats` dense_vector off-heap sizes:
 * `vec` raw float vectors, `veq` int8/int4 vectors, `veb` bbq vectors, `vex` the HNSW graph), beside the sizes
 * Elasticsearch documents for each index type ("Tune approximate kNN search": ensure data nodes have enough memory).
 */

export interface VectorFieldUnderTest {
  field: string;
  type: VectorIndexType;
  dims: number;
  /** HNSW degree (ignored by flat types). */
  m: number;
  /** Whether the catalog itself has this field (false: a benchmark's exact copy, left out of the memory a catalog needs). */
  catalog: boolean;
}

/** The bytes Elasticsearch documents for `count` vectors of a field: the vectors a search reads, and the graph. */
export function documentedVectorBytes(type: VectorIndexType, dims: number, m: number, count: number): { vectors: number; graph: number } {
  const perVector: Record<VectorIndexType, number> = {
    hnsw: dims * 4,
    flat: dims * 4,
    int8_hnsw: dims + 4,
    int8_flat: dims + 4,
    int4_hnsw: dims / 2 + 4,
    bbq_hnsw: dims / 8 + 14,
    bbq_flat: dims / 8 + 14,
  };
  return { vectors: count * perVector[type], graph: type.endsWith('_hnsw') || type === 'hnsw' ? count * 4 * m : 0 };
}

export interface FieldFootprint extends VectorFieldUnderTest {
  /** The field's share of the store (`_disk_usage`: every vector file of the field). */
  disk_bytes: number;
  /** Off-heap files (`_stats`): raw float vectors, quantized vectors (veq or veb), graph. */
  raw_bytes: number;
  quantized_bytes: number;
  graph_bytes: number;
  /** What a search reads: the quantized vectors and the graph, or the raw vectors where there are no others. */
  memory_bytes: number;
  documented_memory_bytes: number;
}

export interface IndexFootprint {
  /** Products (top-level documents; one photo, one vector per field, each). */
  documents: number;
  segments: number;
  store_bytes: number;
  fields: FieldFootprint[];
  /** The catalog's own vector fields (exact copies left out): measured and documented. */
  vector_memory_bytes: number;
  documented_vector_memory_bytes: number;
}

type OffHeap = Record<string, { vec_size_bytes?: number; veq_size_bytes?: number; veb_size_bytes?: number; vex_size_bytes?: number }>;

/** Measures `index` (expensive: `_disk_usage` reads every file). */
export async function indexFootprint(es: Client, index: string, fields: VectorFieldUnderTest[]): Promise<IndexFootprint> {
  const stats = (await es.indices.stats({ index, metric: ['store', 'docs', 'segments', 'dense_vector'] })) as unknown as {
    indices: Record<string, { primaries: { store: { size_in_bytes: number }; docs: { count: number }; segments: { count: number }; dense_vector?: { off_heap?: { fielddata?: OffHeap } } } }>;
  };
  const primaries = stats.indices[index]!.primaries;
  const offHeap = primaries.dense_vector?.off_heap?.fielddata ?? {};
  const usage = (await es.transport.request({ method: 'POST', path: `/${encodeURIComponent(index)}/_disk_usage`, querystring: { run_expensive_tasks: true } }, { requestTimeout: 3_600_000 })) as Record<
    string,
    { fields: Record<string, { knn_vectors_in_bytes: number }> }
  >;
  // Products: `_count` counts top-level documents; `_stats` counts Lucene's, a product's nested photos among them.
  // Each benchmark product has one photo, so products are also the vectors of each field.
  const documents = (await es.count({ index })).count;
  const measured = fields.map((spec): FieldFootprint => {
    const files = offHeap[spec.field] ?? {};
    const quantized = (files.veq_size_bytes ?? 0) + (files.veb_size_bytes ?? 0);
    const graph = files.vex_size_bytes ?? 0;
    const documented = documentedVectorBytes(spec.type, spec.dims, spec.m, documents);
    return {
      ...spec,
      disk_bytes: usage[index]?.fields[spec.field]?.knn_vectors_in_bytes ?? 0,
      raw_bytes: files.vec_size_bytes ?? 0,
      quantized_bytes: quantized,
      graph_bytes: graph,
      memory_bytes: (quantized > 0 ? quantized : (files.vec_size_bytes ?? 0)) + graph,
      documented_memory_bytes: documented.vectors + documented.graph,
    };
  });
  const catalog = measured.filter((field) => field.catalog);
  return {
    documents,
    segments: primaries.segments.count,
    store_bytes: primaries.store.size_in_bytes,
    fields: measured,
    vector_memory_bytes: catalog.reduce((sum, field) => sum + field.memory_bytes, 0),
    documented_vector_memory_bytes: catalog.reduce((sum, field) => sum + field.documented_memory_bytes, 0),
  };
}
