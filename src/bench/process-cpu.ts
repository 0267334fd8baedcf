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
