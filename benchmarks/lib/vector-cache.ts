import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Embedder } from '../../core/embedding/embedder';
import { embedAll } from './embed';

/**
 * Matrices of float32 rows kept on disk under .cache/, so that work that takes minutes (embedding photos) or
 * gigabytes (a million generated products) is done once and read back by the next run.
 *
 * A matrix is two files: `<name>.f32` (rows, little-endian float32, row-major) and `<name>.json` (`{ key, dims }`).
 * The key names what the rows were made from; a matrix whose key differs is thrown away and made again.
 */
export class RowFile {
  private constructor(
    readonly file: string,
    readonly dims: number,
  ) {}

  /** Opens `<base>.f32` for `key`, emptying it when it was made from something else. */
  static open(base: string, key: string, dims: number): RowFile {
    fs.mkdirSync(path.dirname(base), { recursive: true });
    const meta = `${base}.json`;
    const file = `${base}.f32`;
    const known = fs.existsSync(meta) ? (JSON.parse(fs.readFileSync(meta, 'utf8')) as { key?: string; dims?: number }) : undefined;
    if (!known || known.key !== key || known.dims !== dims || !fs.existsSync(file)) {
      fs.writeFileSync(file, '');
      fs.writeFileSync(meta, JSON.stringify({ key, dims }));
    }
    const rows = new RowFile(file, dims);
    // A run killed while appending can leave part of a row: the partial row is dropped.
    const whole = rows.rows * dims * 4;
    if (fs.statSync(file).size !== whole) fs.truncateSync(file, whole);
    return rows;
  }

  /** Writes a whole matrix at once (the key last, so that a run killed half-way leaves no matrix that looks done). */
  static write(base: string, key: string, dims: number, rows: Float32Array): RowFile {
    fs.mkdirSync(path.dirname(base), { recursive: true });
    fs.rmSync(`${base}.json`, { force: true });
    fs.writeFileSync(`${base}.f32`, Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength));
    fs.writeFileSync(`${base}.json`, JSON.stringify({ key, dims }));
    return new RowFile(`${base}.f32`, dims);
  }

  /** Complete rows on disk. */
  get rows(): number {
    return Math.floor(fs.statSync(this.file).size / (this.dims * 4));
  }

  /** Rows `from … from + count − 1` (fewer at the end of the file). */
  read(from: number, count: number): Float32Array {
    const wanted = Math.max(0, Math.min(count, this.rows - from));
    const bytes = Buffer.alloc(wanted * this.dims * 4);
    const fd = fs.openSync(this.file, 'r');
    try {
      let done = 0;
      while (done < bytes.length) {
        const read = fs.readSync(fd, bytes, done, bytes.length - done, from * this.dims * 4 + done);
        if (read === 0) break;
        done += read;
      }
    } finally {
      fs.closeSync(fd);
    }
    return new Float32Array(bytes.buffer, bytes.byteOffset, wanted * this.dims);
  }

  /** Appends whole rows. */
  append(rows: Float32Array): void {
    if (rows.length % this.dims !== 0) throw new Error(`${this.file}: ${rows.length} values are not whole rows of ${this.dims}`);
    fs.appendFileSync(this.file, Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength));
  }
}

/** A short stable hash of anything JSON can write: the key of a cached matrix. */
export function cacheKey(value: unknown): string {
  return crypto.createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/**
 * `embedAll`, read from `<directory>/<label>-<model>.f32` when these images were embedded by these model versions
 * before. Images are named by path (files) or by content hash (bytes).
 */
export async function cachedEmbeddings(embedder: Embedder, images: Array<string | Buffer>, crop: 'auto' | 'none', directory: string, label: string): Promise<Record<string, Float32Array>> {
  const names = images.map((image) => (typeof image === 'string' ? image : crypto.createHash('sha256').update(image).digest('hex')));
  const base = (id: string) => path.join(directory, `${label}-${id}`);
  const key = (id: string, version: string) => cacheKey({ model: id, version, crop, names });
  const files = embedder.models.map((model) => RowFile.open(base(model.id), key(model.id, model.version), model.dims));
  if (files.every((file) => file.rows === images.length)) {
    return Object.fromEntries(embedder.models.map((model, m) => [model.id, files[m]!.read(0, images.length)]));
  }
  const vectors = await embedAll(embedder, images, crop, `${label}: embed`);
  for (const model of embedder.models) RowFile.write(base(model.id), key(model.id, model.version), model.dims, vectors[model.id]!);
  return vectors;
}
