import pino, { type Logger } from 'pino';
import type { Config } from './config';

export type { Logger };

/**
 * The process's one logger; components take `logger.child({ component })`. JSON lines on stdout for the services,
 * on stderr for the CLI (whose stdout carries results).
 */
export function createLogger(config: Pick<Config, 'log'>, name = 'lookalike', destination: 1 | 2 = 1): Logger {
  return pino({
    name,
    level: config.log.level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['*.authorization', '*.password', '*.apiKey', 'headers["lookalike-signature"]'], remove: true },
  }, pino.destination({ fd: destination, sync: destination === 2 }));
}
