import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * What the processes under load cost, read from Linux's /proc: CPU time (utime + stime of /proc/<pid>/stat, every
 * thread of the process) and resident memory (VmRSS of /proc/<pid>/status), and the whole machine's busy time
 * (/proc/stat), so that other people's work on a shared machine shows as what is left over.
 */

let ticks: number | null = null;

/** Clock ticks a second (CLK_TCK), the unit of /proc's CPU times; 100 where getconf is missing. */
export function clockTicks(): number {
  if (ticks === null) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/**
 * CPU time in clock ticks from the text of /proc/<pid>/stat (the command name may hold spaces and parentheses):
 * the process's own utime + stime, or `children`: cutime + cstime, its children that exited and were waited for.
 */
export function parseProcStat(text: string, whose: 'own' | 'children' = 'own'): number {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields 14–17 of the line (utime, stime, cutime, cstime); fields[0] here is field 3 (the state).
  const at = whose === 'own' ? 11 : 13;
  const user = Number(fields[at]);
  const system = Number(fields[at + 1]);
  if (!Number.isFinite(user) || !Number.isFinite(system)) throw new Error('unreadable /proc/<pid>/stat');
  return user + system;
}

/**
 * CPU seconds of this process's children that have exited: around one k6 run (the only child that exits meanwhile)
 * its difference is what k6 itself used, which /proc/<pid>/stat can no longer tell once k6 is gone.
 */
export const exitedChildrenCpuSeconds = (): number => parseProcStat(fs.readFileSync('/proc/self/stat', 'utf8'), 'children') / clockTicks();

/** CPU seconds the process has used so far, or null when it is gone. */
export function cpuSecondsOf(pid: number): number | null {
  try {
    return parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')) / clockTicks();
  } catch {
    return null;
  }
}

/** A memory figure of /proc/<pid>/status (VmRSS, VmHWM: kB there) in bytes, or null when absent (a zombie). */
export function parseStatusBytes(text: string, key: 'VmRSS' | 'VmHWM'): number | null {
  const match = new RegExp(`^${key}:\\s+(\\d+)\\s+kB$`, 'm').exec(text);
  return match ? Number(match[1]) * 1024 : null;
}

/** VmRSS in bytes from the text of /proc/<pid>/status, or null when absent (a zombie). */
export function parseVmRss(text: string): number | null {
  return parseStatusBytes(text, 'VmRSS');
}

/** A process's VmRSS or VmHWM in bytes, or null when it is gone or has none. */
export function statusBytesOf(pid: number, key: 'VmRSS' | 'VmHWM'): number | null {
  try {
    return parseStatusBytes(fs.readFileSync(`/proc/${pid}/status`, 'utf8'), key);
  } catch {
    return null;
  }
}

export function rssBytesOf(pid: number): number | null {
  return statusBytesOf(pid, 'VmRSS');
}

/** The machine's busy CPU seconds so far (every CPU: all but idle and iowait) from the text of /proc/stat. */
export function parseMachineBusy(text: string): number {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('unreadable /proc/stat');
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  return (user! + nice! + system! + irq! + softirq! + steal!) / clockTicks();
}

export const machineBusySeconds = (): number => parseMachineBusy(fs.readFileSync('/proc/stat', 'utf8'));

/** The load average over the last minute. */
export const loadAverage = (): number => Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

/**
 * Elasticsearch's pid when scripts/services.sh started it: its marker (.cache/services/elasticsearch.started) lists
 * the pid file of each node it started, one a line; the first whose process is alive is the node measured (on a
 * cluster of several, that node only). Null otherwise (ES_URL elsewhere): its CPU is then not measured.
 */
export function elasticsearchPid(cacheDir: string): number | null {
  let marker: string;
  try {
    marker = fs.readFileSync(path.join(cacheDir, 'services', 'elasticsearch.started'), 'utf8');
  } catch {
    return null;
  }
  for (const pidFile of marker.split('\n').map((line) => line.trim()).filter(Boolean)) {
    try {
      const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && fs.existsSync(`/proc/${pid}`)) return pid;
    } catch {
      // a node's pid file gone with its node: the next line
    }
  }
  return null;
}

export interface ProcessUsage {
  /** CPU seconds each named process used over the window (absent when it could not be read at both ends). */
  cpuSeconds: Record<string, number>;
  /** The machine's busy CPU seconds over the window, every process of everyone included. */
  machineBusySeconds: number;
  /** Highest resident memory seen per process, bytes (sampled every second). */
  rssMaxBytes: Record<string, number>;
  seconds: number;
}

/** Measures named processes from now until `stop()`: CPU-time deltas, and resident memory sampled every second. */
export function measureProcesses(pids: Record<string, number>, intervalMs = 1000): { stop(): ProcessUsage } {
  const started = Date.now();
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSecondsOf(pid)]));
  const machine0 = machineBusySeconds();
  const rssMax: Record<string, number> = {};
  const sample = () => {
    for (const [name, pid] of Object.entries(pids)) {
      const rss = rssBytesOf(pid);
      if (rss !== null) rssMax[name] = Math.max(rssMax[name] ?? 0, rss);
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const cpuSeconds: Record<string, number> = {};
      for (const [name, pid] of Object.entries(pids)) {
        const end = cpuSecondsOf(pid);
        if (end !== null && cpu0[name] !== null && cpu0[name] !== undefined) cpuSeconds[name] = end - cpu0[name];
      }
      return { cpuSeconds, machineBusySeconds: machineBusySeconds() - machine0, rssMaxBytes: rssMax, seconds: (Date.now() - started) / 1000 };
    },
  };
}
