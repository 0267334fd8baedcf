import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/common/logger.js';
import { makeTempDataDir } from '../../src/common/paths.js';
import { MembershipPublisher } from '../../src/replication-manager/membership.js';
import { Supervisor } from '../../src/replication-manager/supervisor.js';

describe('the supervisor when a spawn throws', () => {
  const dirs: string[] = [];
  const supervisors: Supervisor[] = [];
  afterEach(async () => {
    for (const s of supervisors.splice(0)) await s.stop(0);
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('a spawn that throws (no log file to open) is a failed start: the slot backs off, start() resolves', async () => {
    const dir = makeTempDataDir('hedge-supervisor-');
    dirs.push(dir);
    const supervisor = new Supervisor(
      {
        dataDir: dir,
        databaseUrl: 'postgres://unused@127.0.0.1:1/unused',
        replicas: 1,
        spares: 0,
        minimum: 1,
        heartbeatIntervalMs: 100,
        heartbeatTimeoutMs: 250,
        heartbeatMisses: 1,
        replica: {},
        registryPath: join(dir, 'registry.json'),
        // Never created: every openSync of a replica's log throws ENOENT, as EMFILE would.
        logDir: join(dir, 'missing', 'logs'),
      },
      new MembershipPublisher(0),
      createLogger('test-supervisor'),
    );
    supervisors.push(supervisor);
    await supervisor.start(undefined);
    // A first quick failure respawns at once; the second backs off.
    while (supervisor.status()[0]?.state !== 'REPLICA_STATE_BACKING_OFF') await delay(10);
    const [slot] = supervisor.status();
    expect(slot?.last_fault).toMatch(/^failed to start: ENOENT/);
    expect(slot?.last_fault_cause).toBe('start');
    expect(slot?.restarts).toBeGreaterThanOrEqual(1);
    expect(supervisor.serving()).toEqual([]);
  });
});
