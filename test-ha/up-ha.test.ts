import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exited, spawnHedge } from '../src/common/hedge-process.js';
import { CLI_PATH, makeTempDataDir } from '../src/common/paths.js';
import { isAlive } from '../src/common/process-state.js';
import { descendantsOf, waitUntilGone } from '../test/support/processes.js';

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

describe('hedge up --ha', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = makeTempDataDir('hedge-up-ha-');
  });
  afterAll(async () => {
    // Whatever a failed test left running is killed before its directory goes.
    for (const pid of postmasters(dataDir)) process.kill(pid, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  function startUp() {
    return spawnHedge(['up', '--ha', '--data-dir', dataDir, '--feed-port', '0', '--manager-port', '0'], {
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
      dataDir,
    ]);
    expect(stdout).toMatch(/3\/3 replicas serving · database up/);
    expect(stdout.match(/^127\.0\.0\.1:\d+ +primary$/gm)).toHaveLength(1);
    expect(stdout.match(/^127\.0\.0\.1:\d+ +standby$/gm)).toHaveLength(2);
    // etcd ×3, Patroni ×3, postmasters and their workers, feed, manager, three replicas
    const processes = systemProcesses(up.child.pid as number, dataDir);
    expect(postmasters(dataDir)).toHaveLength(3);
    expect(processes.length).toBeGreaterThanOrEqual(20);
    up.child.kill('SIGTERM');
    await exited(up.child);
    expect(up.child.exitCode).toBe(0);
    expect(await waitUntilGone(processes, 60_000)).toEqual([]);
  });

  it('after SIGKILL of hedge up, etcd and Patroni die with it, and the next up takes the directory over and stops everything', async () => {
    const first = startUp();
    await first.ready;
    const processes = systemProcesses(first.child.pid as number, dataDir);
    first.child.kill('SIGKILL');
    await exited(first.child);
    // Postmasters outlive a SIGKILLed Patroni: the next up kills them; everything else is gone already.
    const survivors = await waitUntilGone(
      processes.filter(
        (p) =>
          !postmasters(dataDir).includes(p) &&
          !postmasters(dataDir).some((m) => descendantsOf(m).includes(p)),
      ),
      60_000,
    );
    expect(survivors).toEqual([]);
    const second = startUp();
    await second.ready;
    const all = [...processes, ...systemProcesses(second.child.pid as number, dataDir)];
    second.child.kill('SIGTERM');
    await exited(second.child);
    expect(await waitUntilGone(all, 60_000)).toEqual([]);
  });
});
