import { describeError } from './errors';

/**
 * Runs a process's main function. A failure before the process is up (bad configuration, unreachable services, a
 * mapping that disagrees with a model) prints one line naming the problem and exits non-zero: no stack trace.
 * Set LOG_LEVEL=debug to get the stack as well.
 */
export function runMain(name: string, main: () => Promise<void | number>): void {
  main().then(
    (code) => {
      if (typeof code === 'number') process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${name}: ${describeError(error)}\n`);
      if (process.env.LOG_LEVEL === 'debug' && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
      process.exit(1);
    },
  );
}
