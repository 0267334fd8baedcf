import { type ChildProcess, execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exited, spawnHedge } from '../src/common/hedge-process.js';
import { CLI_PATH, makeTempDataDir } from '../src/common/paths.js';
import { isAlive } from '../src/common/process-state.js';
import { descendantsOf, signalFound, waitUntilGone } from '../test/support/processes.js';

/** The three postmasters, from their postmaster.pid files (Patroni starts them in sessions of their own). */
function postmasters(dataDir: string): number[] {
  return [1, 2, 3].flatMap((i) => {
    try {
      const pid = Number(
        readFileSync(join(dataDir, 'ha', `pg${i}`, 'data', 'postmaster.pid'), 'utf8').split('\n')[0],
      );
      return isAlive(pid) ? [pid] : [];
    } catch {
      return [];
    }
  });
}

/** Everything a running `hedge up --ha` is made of: its process tree and the postmasters' trees. */
function systemProcesses(upPid: number, dataDir: string): number[] {
  const masters = postmasters(dataDir);
  return [...new Set([...descendantsOf(upPid), ...masters, ...masters.flatMap(descendantsOf)])];
}

/**
 * The describe block's data directory, made in beforeAll; whatever a failed test left running
 * (its postmasters) is killed before the directory goes.
 */
function useUpHaDataDir(): { readonly path: string } {
  let path = '';
  beforeAll(() => {
    path = makeTempDataDir('hedge-up-ha-');
  });
  afterAll(async () => {
    for (const pid of postmasters(path)) process.kill(pid, 'SIGKILL');
    rmSync(path, { recursive: true, force: true });
  });
  return {
    get path() {
      return path;
    },
  };
}

describe('hedge up --ha', () => {
  const dir = useUpHaDataDir();

  function startUp() {
    return spawnHedge(['up', '--ha', '--data-dir', dir.path, '--feed-port', '0', '--manager-port', '0'], {
      output: 'ignore',
      env: { DATABASE_URL: '' },
      readyTimeoutMs: 200_000,
    });
  }

  it('runs the system on the Patroni cluster, status names the primary, and SIGTERM stops every process', async () => {
    const up = startUp();
    await up.ready;
    const { stdout } = await promisify(execFile)(process.execPath, [
      CLI_PATH,
      'status',
      '--data-dir',
      dir.path,
    ]);
    expect(stdout).toMatch(/3\/3 replicas serving · database up/);
    expect(stdout.match(/^127\.0\.0\.1:\d+ +primary$/gm)).toHaveLength(1);
    expect(stdout.match(/^127\.0\.0\.1:\d+ +standby$/gm)).toHaveLength(2);
    // etcd ×3, Patroni ×3, postmasters and their workers, feed, manager, three replicas
    const processes = systemProcesses(up.child.pid as number, dir.path);
    expect(postmasters(dir.path)).toHaveLength(3);
    expect(processes.length).toBeGreaterThanOrEqual(20);
    up.child.kill('SIGTERM');
    await exited(up.child);
    expect(up.child.exitCode).toBe(0);
    expect(await waitUntilGone(processes, 60_000)).toEqual([]);
  });

  it('after SIGKILL of hedge up, etcd and Patroni die with it, and the next up takes the directory over and stops everything', async () => {
    const first = startUp();
    await first.ready;
    const processes = systemProcesses(first.child.pid as number, dir.path);
    first.child.kill('SIGKILL');
    await exited(first.child);
    // Postmasters outlive a SIGKILLed Patroni: the next up kills them; everything else is gone already.
    const survivors = await waitUntilGone(
      processes.filter(
        (p) =>
          !postmasters(dir.path).includes(p) &&
          !postmasters(dir.path).some((m) => descendantsOf(m).includes(p)),
      ),
      60_000,
    );
    expect(survivors).toEqual([]);
    const second = startUp();
    await second.ready;
    const all = [...processes, ...systemProcesses(second.child.pid as number, dir.path)];
    second.child.kill('SIGTERM');
    await exited(second.child);
    expect(await waitUntilGone(all, 60_000)).toEqual([]);
  });
});

/** The pids whose command line is `hedge <command>` on this data directory. */
function hedgeProcesses(dataDir: string, command: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((pid) => {
      try {
        const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return args[args.indexOf(CLI_PATH) + 1] === command && args.includes(dataDir);
      } catch {
        return false;
      }
    });
}

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

describe('hedge up --ha after a manager fail-over', () => {
  const dir = useUpHaDataDir();

  it('SIGTERM stops the system without the standby ever spawning a second set of replicas (manager-2 active, manager its standby)', async () => {
    const up = spawnHedge(['up', '--ha', '--data-dir', dir.path, '--feed-port', '0', '--manager-port', '0'], {
      output: 'ignore',
      env: { DATABASE_URL: '' },
      readyTimeoutMs: 200_000,
    });
    await up.ready;
    try {
      await failOverThenStop(up.child);
    } finally {
      if (up.child.exitCode === null) {
        up.child.kill('SIGTERM');
        await exited(up.child);
      }
    }
  });

  async function failOverThenStop(upChild: ChildProcess): Promise<void> {
    const status = async () =>
      (await promisify(execFile)(process.execPath, [CLI_PATH, 'status', '--data-dir', dir.path])).stdout;
    // Three serving and the warm spare.
    const replicas = hedgeProcesses(dir.path, 'replica');
    expect(replicas).toHaveLength(4);
    // The active manager is the one that spawned the replicas (`manager`, the first started).
    const [active, ...others] = [...new Set(replicas.map(parentOf))];
    expect(others).toEqual([]);
    signalFound(active, 'SIGKILL');
    // The standby takes over and adopts them; up starts `manager` again, now the standby.
    const failoverBy = Date.now() + 120_000;
    for (;;) {
      const managers = hedgeProcesses(dir.path, 'manager');
      const text = await status().catch(() => '');
      if (managers.length === 2 && !managers.includes(active ?? 0) && /3\/3 replicas serving/.test(text))
        break;
      if (Date.now() > failoverBy) throw new Error(`no fail-over in 120 s: ${text}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(hedgeProcesses(dir.path, 'replica').sort()).toEqual([...replicas].sort());
    // Stopping: no replica process but the three adopted ones may ever appear.
    const seen = new Set<number>();
    upChild.kill('SIGTERM');
    const done = exited(upChild);
    let over = false;
    void done.then(() => {
      over = true;
    });
    while (!over) {
      for (const pid of hedgeProcesses(dir.path, 'replica')) seen.add(pid);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(upChild.exitCode).toBe(0);
    expect([...seen].filter((pid) => !replicas.includes(pid))).toEqual([]);
    expect(await waitUntilGone(replicas, 60_000)).toEqual([]);
  }
});
