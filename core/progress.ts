/**
 * Progress for long work: a redrawn bar on a terminal, plain lines (at most one every 2 s, and the last) otherwise,
 * so logs of CI runs and `nohup` jobs stay readable. Written to stderr; stdout is for results.
 */
export interface Progress {
  update(done: number, total?: number, note?: string): void;
  done(note?: string): void;
}

export function createProgress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = Boolean(stream.isTTY);
  const started = Date.now();
  let lastLine = 0;
  let last = { done: 0, total: undefined as number | undefined, note: '' };

  const render = (final: boolean): string => {
    const seconds = (Date.now() - started) / 1000;
    const rate = seconds > 0 ? last.done / seconds : 0;
    const { total } = last;
    const counts = total !== undefined ? `${last.done}/${total}` : `${last.done}`;
    const eta = total !== undefined && rate > 0 && !final ? ` eta ${Math.ceil((total - last.done) / rate)}s` : '';
    let bar = '';
    if (tty && total !== undefined && total > 0) {
      const width = 30;
      const filled = Math.min(width, Math.round((last.done / total) * width));
      bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] `;
    }
    return `${label} ${bar}${counts} ${rate.toFixed(1)}/s${eta}${last.note ? ` ${last.note}` : ''}`;
  };

  return {
    update(done, total, note = '') {
      last = { done, total, note };
      if (tty) stream.write(`\r\x1b[2K${render(false)}`);
      else if (Date.now() - lastLine >= 2_000) {
        lastLine = Date.now();
        stream.write(`${render(false)}\n`);
      }
    },
    done(note) {
      if (note !== undefined) last.note = note;
      stream.write(tty ? `\r\x1b[2K${render(true)}\n` : `${render(true)}\n`);
    },
  };
}
