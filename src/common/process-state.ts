import { readFileSync } from 'node:fs';

/** Whether `pid` is a live process (not a zombie). EPERM means it exists under another user. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z';
}

/**
 * What /proc says of the process: `stopped` for state T (a stop signal: SIGSTOP,
 * SIGTSTP) or t (stopped by a tracer), the only states in which a live process
 * cannot run at all; `gone` for a zombie, a dead task or no entry; else `running`
 * (R, S, D, …: running, waiting or runnable but starved of CPU).
 */
export type ProcessState = 'running' | 'stopped' | 'gone';

export function processState(pid: number): ProcessState {
  const state = statFields(pid)?.[0];
  if (state === undefined || state === 'Z' || state === 'X') return 'gone';
  return state === 'T' || state === 't' ? 'stopped' : 'running';
}

/**
 * The fields of /proc/<pid>/stat from field 3 (the one-letter state) on, or
 * undefined if there is no such process. They follow the last ")": the command
 * name before it may hold spaces and parentheses.
 */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The process's parent (field 4 of /proc/<pid>/stat), or undefined if it is gone. */
export function parentPid(pid: number): number | undefined {
  const ppid = Number(statFields(pid)?.[1]);
  return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
}

/** The process's command line, or [] if it is gone. */
export function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter((a) => a.length > 0);
  } catch {
    return [];
  }
}

export function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * When the process started, in clock ticks since boot (field 22 of /proc/<pid>/stat),
 * or undefined if it is gone. With the pid it names one process: a pid can be reused.
 */
export function processStartTime(pid: number): string | undefined {
  // The start time is field 22.
  return statFields(pid)?.[19];
}
