import { runMain } from '../core/main';
import { ValidationError } from '../core/errors';
import { embedCommand, embedUsage } from './commands/embed.command';
import { importCommand, importUsage } from './commands/import.command';
import { indexCommand, indexUsage } from './commands/index.command';
import { reembedCommand, reembedUsage } from './commands/reembed.command';

const usage = `usage:
${embedUsage}
${importUsage}
${reembedUsage}
${indexUsage}`;

type Command = (args: string[]) => Promise<number>;

const commands: Record<string, Command> = {
  embed: embedCommand,
  import: importCommand,
  reembed: reembedCommand,
  index: indexCommand,
};

runMain('lookalike', async () => {
  const [name, ...args] = process.argv.slice(2);
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage}\n`);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) throw new ValidationError(`unknown command "${name}"\n${usage}`, { code: 'usage' });
  return command(args);
});
