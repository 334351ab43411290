import fs from 'node:fs/promises';
import { loadConfig } from '../../core/config';
import { createEmbedder } from '../../core/embedding/embedder';
import { AppError, ValidationError, describeError } from '../../core/errors';
import { createLogger } from '../../core/logger';

export const embedUsage = 'lookalike embed [--model <id>] [--json] <image…>   embed images with a model (default: the first of MODELS)';

interface EmbedArgs {
  model?: string;
  json: boolean;
  files: string[];
}

function parse(args: string[]): EmbedArgs {
  const parsed: EmbedArgs = { json: false, files: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--json') parsed.json = true;
    else if (arg === '--model') {
      const value = args[++i];
      if (!value) throw new ValidationError(`--model needs a model id\n${embedUsage}`, { code: 'usage' });
      parsed.model = value;
    } else if (arg.startsWith('--model=')) parsed.model = arg.slice('--model='.length);
    else if (arg.startsWith('--')) throw new ValidationError(`unknown option ${arg}\n${embedUsage}`, { code: 'usage' });
    else parsed.files.push(arg);
  }
  if (parsed.files.length === 0) throw new ValidationError(`no images given\n${embedUsage}`, { code: 'usage' });
  return parsed;
}

/**
 * `lookalike embed`: one line per image. With --json: `{ file, model, dims, crop, timings_ms, vector }`, or
 * `{ file, error: { code, message } }` for a refused image. Exit status 1 when any image failed.
 */
export async function embedCommand(args: string[]): Promise<number> {
  const options = parse(args);
  const config = loadConfig(process.env);
  const logger = createLogger(config, 'lookalike', 2);
  const modelId = options.model ?? config.models.ids[0]!;
  const embedder = await createEmbedder(config, logger, [modelId]);
  let failed = 0;
  try {
    for (const file of options.files) {
      let line: Record<string, unknown>;
      try {
        const bytes = await fs.readFile(file).catch((error: NodeJS.ErrnoException) => {
          throw new AppError('file_unreadable', `cannot read ${file}: ${error.code ?? error.message}`, 400);
        });
        const image = await embedder.embed(bytes);
        const embedding = image.embeddings[0]!;
        line = { file, model: embedding.model, dims: embedding.vector.length, crop: embedding.crop, timings_ms: image.timings, vector: Array.from(embedding.vector) };
      } catch (error) {
        failed++;
        const code = error instanceof AppError ? error.code : 'internal_error';
        line = { file, error: { code, message: error instanceof AppError ? error.message : describeError(error) } };
      }
      if (options.json) process.stdout.write(`${JSON.stringify(line)}\n`);
      else if (line.error) process.stdout.write(`${file}\terror\t${(line.error as { code: string }).code}\t${(line.error as { message: string }).message}\n`);
      else {
        const crop = line.crop as { left: number; top: number; width: number; height: number } | null;
        const cropText = crop ? `${crop.left},${crop.top},${crop.width}x${crop.height}` : 'none';
        const head = (line.vector as number[]).slice(0, 4).map((v) => v.toFixed(4)).join(' ');
        process.stdout.write(`${file}\t${String(line.model)}\t${String(line.dims)} dims\tcrop ${cropText}\t${(line.timings_ms as { total: number }).total} ms\t[${head} …]\n`);
      }
    }
  } finally {
    await embedder.close();
  }
  return failed > 0 ? 1 : 0;
}
