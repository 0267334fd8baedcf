import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { commandLine } from '../common/process-state.js';

/** One process's CPU time so far: user + system, in clock ticks. */
export interface CpuSample {
  pid: number;
  ticks: number;
  /** What it is, from its command line: `replica r2`, `manager`, `postgres: checkpointer`, … */
  name: string;
}

/** Clock ticks per second (/proc's unit), 100 on every Linux hedge runs on unless getconf says otherwise. */
export function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** `root` and every process below it, each with its CPU time (fields 14 and 15 of /proc/<pid>/stat). */
export function sampleTree(root: number): CpuSample[] {
  const samples: CpuSample[] = [];
  const visit = (pid: number) => {
    const ticks = cpuTicks(pid);
    if (ticks === undefined) return;
    samples.push({ pid, ticks, name: describe(pid) });
    for (const child of childrenOf(pid)) visit(child);
  };
  visit(root);
  return samples;
}

function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 (utime) and 15 (stime), counted from 1 with the pid; the slice starts at field 3.
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
      try {
        return readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8')
          .split(' ')
          .filter((s) => s.length > 0)
          .map(Number);
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

function describe(pid: number): string {
  const argv = commandLine(pid);
  const cli = argv.findIndex((a) => a.endsWith('cli.js'));
  if (cli >= 0) {
    const command = argv[cli + 1] ?? 'hedge';
    const id = argv.indexOf('--id');
    return id >= 0 ? `${command} ${argv[id + 1]}` : command;
  }
  // PostgreSQL's postmaster runs as …/bin/postgres; its children name themselves "postgres: checkpointer", ….
  if (argv[0]?.endsWith('/postgres') || argv[0]?.startsWith('postgres:')) return 'postgres';
  return (argv.join(' ') || String(pid)).slice(0, 60);
}

/** Per process and in total, the share of one core each used between two samples `seconds` apart. */
export function cpuShares(
  before: CpuSample[],
  after: CpuSample[],
  seconds: number,
  ticksPerSecond: number,
): { rows: { pid: number; name: string; percent: number }[]; totalPercent: number } {
  const start = new Map(before.map((s) => [s.pid, s.ticks]));
  const rows = after.flatMap((s) => {
    const from = start.get(s.pid);
    if (from === undefined) return [];
    return [{ pid: s.pid, name: s.name, percent: ((s.ticks - from) / ticksPerSecond / seconds) * 100 }];
  });
  return { rows, totalPercent: rows.reduce((a, r) => a + r.percent, 0) };
}
