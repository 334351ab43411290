import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { clockTicks, cpuSecondsOf, elasticsearchPid, measureProcesses, parseMachineBusy, parseProcStat, parseVmRss } from '../../../benchmarks/lib/load-proc';

describe('/proc readers', () => {
  // A command name with a space and a parenthesis: the fields are counted from the last ')'.
  const stat = '4242 (node (api) x) S 1 4242 4242 0 -1 4194304 1000 0 0 0 250 75 30 12 20 0 11 0 9999 123456 789 18446744073709551615';

  it('reads utime + stime, and the waited-for children’s cutime + cstime', () => {
    expect(parseProcStat(stat)).toBe(325);
    expect(parseProcStat(stat, 'children')).toBe(42);
    expect(() => parseProcStat('1 (x) S 1')).toThrow(/unreadable/);
  });

  it('reads VmRSS in bytes', () => {
    expect(parseVmRss('Name:\tnode\nVmHWM:\t  400000 kB\nVmRSS:\t  321000 kB\nThreads:\t11\n')).toBe(321000 * 1024);
    expect(parseVmRss('Name:\tzombie\nState:\tZ (zombie)\n')).toBeNull();
  });

  it('counts the machine’s busy time: all but idle and iowait', () => {
    const text = 'cpu  100 20 30 5000 70 1 2 3 0 0\ncpu0 50 10 15 2500 35 0 1 1 0 0\n';
    expect(parseMachineBusy(text)).toBeCloseTo((100 + 20 + 30 + 1 + 2 + 3) / clockTicks());
  });

  it('measures a live process: CPU used over the window and its memory', async () => {
    const before = cpuSecondsOf(process.pid);
    expect(before).not.toBeNull();
    const measure = measureProcesses({ self: process.pid, gone: 2 ** 22 + 1 }, 20);
    const until = Date.now() + 150;
    while (Date.now() < until) Math.sqrt(Math.random());
    const usage = measure.stop();
    expect(usage.cpuSeconds.self).toBeGreaterThan(0);
    expect(usage.cpuSeconds.gone).toBeUndefined();
    expect(usage.rssMaxBytes.self).toBeGreaterThan(10 * 2 ** 20);
    expect(usage.seconds).toBeGreaterThanOrEqual(0.15);
  });
});

describe('the Elasticsearch pid that services.sh started', () => {
  it('is the first node of its marker whose process is alive (the marker lists one pid file a line)', () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'marker-'));
    fs.mkdirSync(path.join(cache, 'services'));
    const alive = path.join(cache, 'alive.pid');
    fs.writeFileSync(alive, `${process.pid}\n`);
    fs.writeFileSync(path.join(cache, 'services', 'elasticsearch.started'), `${path.join(cache, 'gone.pid')}\n${alive}\n`);
    expect(elasticsearchPid(cache)).toBe(process.pid);
    fs.writeFileSync(path.join(cache, 'services', 'elasticsearch.started'), `${path.join(cache, 'gone.pid')}\n`);
    expect(elasticsearchPid(cache)).toBeNull();
    fs.rmSync(cache, { recursive: true, force: true });
  });
});
