import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { commandLine } from '../common/process-state.js';

/**
 * CPU time of this process and every process below it, by role, read from
 * /proc/<pid>/stat (utime + stime, fields 14 and 15, in clock ticks): what a
 * run's CPU went to, summed over the bench (client and load generator), each
 * replica, PostgreSQL's backends and the rest. Linux only; elsewhere empty.
 */
export type CpuByRole = Record<string, number>;

/** USER_HZ: 100 on every Linux Node runs on (sysconf(_SC_CLK_TCK)). */
const TICK_MS = 10;

interface ProcStat {
  ppid: number;
  ticks: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // From the state (field 3): ppid is field 4, utime 14, stime 15.
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
}

/** A process's role: 'replica <id>', 'postgres', 'manager', 'feed', 'db', or its program. */
function roleOf(pid: number): string {
  const argv = commandLine(pid);
  const program = argv[0] ?? '?';
  if (program.includes('postgres')) return 'postgres';
  const command = argv.find((a) =>
    ['replica', 'manager', 'feed', 'db', 'fault-injector', 'replication-manager'].includes(a),
  );
  if (command === 'replica') {
    const id = argv[argv.indexOf('--id') + 1];
    return argv.includes('--id') && id ? `replica ${id}` : 'replica';
  }
  return command ?? program.split('/').pop() ?? '?';
}

/** Milliseconds of CPU per process (keyed by pid and role) under this process, this one included. */
function snapshot(): Map<string, number> {
  const stats = new Map<number, ProcStat>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return new Map();
  }
  for (const e of entries) {
    const pid = Number(e);
    if (!Number.isInteger(pid)) continue;
    const s = readStat(pid);
    if (s) stats.set(pid, s);
  }
  const mine = new Set<number>([process.pid]);
  // Parents come before children in no particular order: grow the set until it stops growing.
  for (let grown = true; grown; ) {
    grown = false;
    for (const [pid, s] of stats) {
      if (!mine.has(pid) && mine.has(s.ppid)) {
        mine.add(pid);
        grown = true;
      }
    }
  }
  const out = new Map<string, number>();
  for (const pid of mine) {
    const s = stats.get(pid);
    if (!s) continue;
    const role = pid === process.pid ? 'bench (client)' : roleOf(pid);
    out.set(`${pid}\0${role}`, s.ticks * TICK_MS);
  }
  return out;
}

/** Starts counting; the function returned gives the CPU milliseconds spent since, by role. */
export function startCpuCount(): () => CpuByRole {
  const before = snapshot();
  return () => {
    const byRole: CpuByRole = {};
    for (const [key, ms] of snapshot()) {
      const role = key.slice(key.indexOf('\0') + 1);
      const spent = ms - (before.get(key) ?? 0);
      byRole[role] = (byRole[role] ?? 0) + spent;
    }
    return byRole;
  };
}

// The idle-cost measurement (bench-idle): one process tree, per process.

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
  return readStat(pid)?.ticks;
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
