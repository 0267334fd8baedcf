import { rmSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { spawnHedge, stopChild } from '../common/hedge-process.js';
import { makeTempDataDir } from '../common/paths.js';
import { describeMachine } from './machine.js';
import { clockTicks, cpuShares, sampleTree } from './process-cpu.js';

export interface IdleCostOptions {
  /** Time after `hedge up` is ready before measuring: start-up work (migrations, warm-up) is not rest. */
  settleMs: number;
  durationMs: number;
  /** More `hedge up` options (--spares, --heartbeat-interval, …). */
  upArgs: string[];
  onProgress?: (line: string) => void;
}

export interface IdleCost {
  machine: ReturnType<typeof describeMachine>;
  up_args: string[];
  duration_s: number;
  /** Per kind of process (PostgreSQL's summed), the share of one core. */
  processes: { name: string; count: number; percent_of_core: number }[];
  total_percent_of_core: number;
}

/**
 * `hedge bench-idle`: starts `hedge up` on a new temporary data directory (free
 * ports), lets it settle, and measures the CPU time every process it started
 * (embedded PostgreSQL included) uses over `durationMs` with nothing to do, from
 * /proc/<pid>/stat; then stops it and removes the directory.
 */
export async function measureIdleCost(options: IdleCostOptions): Promise<IdleCost> {
  const dataDir = makeTempDataDir('hedge-idle-');
  const up = spawnHedge(
    ['up', '--data-dir', dataDir, '--feed-port', '0', '--manager-port', '0', ...options.upArgs],
    { lifeline: true, output: 'ignore', readyTimeoutMs: 120_000 },
  );
  try {
    await up.ready;
    const pid = up.child.pid as number;
    options.onProgress?.(`hedge up is ready; settling for ${options.settleMs / 1000} s`);
    await delay(options.settleMs);
    const ticks = clockTicks();
    const before = sampleTree(pid);
    options.onProgress?.(`measuring ${before.length} processes for ${options.durationMs / 1000} s`);
    await delay(options.durationMs);
    const after = sampleTree(pid);
    const { rows, totalPercent } = cpuShares(before, after, options.durationMs / 1000, ticks);
    const byName = new Map<string, { count: number; percent: number }>();
    for (const r of rows) {
      const entry = byName.get(r.name) ?? { count: 0, percent: 0 };
      byName.set(r.name, { count: entry.count + 1, percent: entry.percent + r.percent });
    }
    return {
      machine: describeMachine(),
      up_args: options.upArgs,
      duration_s: options.durationMs / 1000,
      processes: [...byName.entries()]
        .map(([name, e]) => ({ name, count: e.count, percent_of_core: round2(e.percent) }))
        .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true })),
      total_percent_of_core: round2(totalPercent),
    };
  } finally {
    await stopChild(up.child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;
