import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { CLI_PATH } from '../src/common/paths.js';
import { isAlive } from '../src/common/process-state.js';
import { hedgeProto } from '../src/common/proto.js';
import { deadlineAfter, invoke } from '../src/common/rpc.js';
import { FaultInjector, type Injection, type InjectorOptions } from '../src/fault-injector/injector.js';
import { channelCredentials } from '../src/tls/transport.js';
import { type Cluster, serving, tradeArgs, useCluster } from './support/cluster.js';
import { tradeMany } from './support/load.js';
import { startInProcessReplica } from './support/replicas.js';
import { waitFor } from './support/wait.js';

const run = promisify(execFile);

async function hedge(...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, [CLI_PATH, ...args]);
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, stdout: e.stdout };
  }
}

function injector(c: Cluster, options: Partial<InjectorOptions>) {
  const lines: Injection[] = [];
  const injector = new FaultInjector(
    {
      manager: c.managerAddress,
      kinds: ['crash'],
      seed: 1,
      hangMs: 500,
      slowDelayMs: 3_000,
      slowDurationMs: 60_000,
      ...options,
    },
    (i) => lines.push(i),
  );
  return { injector, lines };
}

function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

describe('operating a running system: inject, verify, status', () => {
  // Rare heartbeats and /proc reads: the injected hang must outlast detection only if the manager looks.
  const c = useCluster([
    '--allow-fault-injection',
    '--heartbeat-interval',
    '30s',
    '--process-watch-interval',
    '30s',
  ]);

  it('hedge status --json lists the replicas with pid, address, state, uptime and restarts', async () => {
    const { code, stdout } = await hedge('status', '--manager', c.managerAddress, '--json');
    expect(code).toBe(0);
    const status = JSON.parse(stdout);
    // Three serving and the warm spare (one by default), out of the view.
    expect(status.replicas.map((r: { id: string }) => r.id)).toEqual(['r1', 'r2', 'r3', 'r4']);
    for (const r of status.replicas) {
      expect(r).toMatchObject({
        state: r.id === 'r4' ? 'REPLICA_STATE_SPARE' : 'REPLICA_STATE_SERVING',
        restarts: 0,
      });
      expect(isAlive(r.pid)).toBe(true);
    }
    const table = await hedge('status', '--manager', c.managerAddress);
    expect(table.stdout).toMatch(/3\/3 replicas serving · database up · 1\/1 warm spares/);
    expect(table.stdout).toMatch(/^r2\s+\d+\s+127\.0\.0\.1:\d+\s+serving/m);
    expect(table.stdout).toMatch(/^r4\s+\d+\s+127\.0\.0\.1:\d+\s+warm spare/m);
  });

  it('a slow fault makes a passive primary miss its attempt deadline; replicas refuse it without permission', async () => {
    const slow = (address: string, delay: number) => {
      const admin = new (hedgeProto().ReplicaAdmin)(address, channelCredentials());
      return invoke((cb) =>
        admin.SetSlowness({ delay_ms: delay, duration_ms: 0 }, { deadline: deadlineAfter(5_000) }, cb),
      ).finally(() => admin.close());
    };
    const r1 = (await c.status()).replicas.find((r) => r.id === 'r1');
    const session = await c.session('passive', { attemptTimeoutMs: 500 });
    await slow(r1?.address ?? '', 2_000);
    try {
      const result = await tradeMany([session], c.quotes, 2);
      expect(result.failed).toEqual([]);
      // The first buy waits out r1's attempt deadline and fails over; the client then tries the
      // replica that timed out last, so the second goes to r2 at once.
      const [first, second] = result.telemetry;
      expect(first?.failures).toEqual([
        expect.objectContaining({ replica: 'r1', code: grpcStatus.DEADLINE_EXCEEDED }),
      ]);
      expect(second?.failures).toEqual([]);
      expect(result.telemetry.map((t) => t.answeredBy)).toEqual(['r2', 'r2']);
    } finally {
      await slow(r1?.address ?? '', 0);
    }

    const { injector: viaInjector, lines } = injector(c, { kinds: ['slow'], slowDelayMs: 0 });
    await viaInjector.injectOnce();
    viaInjector.stop();
    expect(lines[0]).toMatchObject({ kind: 'slow', outcome: 'injected' });

    const locked = await startInProcessReplica(
      { databaseUrl: c.db.url, feedPublicKeyPath: c.feed.publicKeyPath },
      'locked',
    );
    try {
      const refused = await slow(locked.address, 100).catch((e: ServiceError) => e);
      expect(refused).toMatchObject({ code: grpcStatus.PERMISSION_DENIED });
    } finally {
      await locked.stop();
    }
  });

  it('a hang stops a replica, then lets it run again', async () => {
    const { injector: hang, lines } = injector(c, { kinds: ['hang'], hangMs: 400 });
    await hang.injectOnce();
    const pid = lines[0]?.target?.pid ?? 0;
    // Signals are delivered asynchronously: wait for each state rather than sample it once.
    await waitFor('the replica to stop', () => processState(pid) === 'T', 10_000, 10);
    await waitFor('the replica to continue', () => processState(pid) !== 'T', 10_000, 10);
    expect(isAlive(pid)).toBe(true);
    hang.stop();
  });

  it('crashes a seeded-random replica, never taking the serving count below the minimum', async () => {
    const { injector: crash, lines } = injector(c, { kinds: ['crash'], minimum: 2 });
    await crash.injectOnce();
    const killed = lines[0]?.target;
    expect(lines[0]).toMatchObject({ kind: 'crash', outcome: 'injected', serving_before: 3 });
    expect(Number.isInteger(lines[0]?.time_ms)).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(isAlive(killed?.pid ?? 0)).toBe(false);
    await c.waitFor('the crashed replica replaced', (s) => serving(s).length === 3);

    const { injector: strict, lines: skipped } = injector(c, { kinds: ['crash'], minimum: 3 });
    await strict.injectOnce();
    strict.stop();
    crash.stop();
    expect(skipped[0]).toMatchObject({ outcome: 'skipped', serving_before: 3 });
    expect(serving(await c.status()).length).toBe(3);
  });

  it('the same seed picks the same targets', async () => {
    const picks = async () => {
      const { injector: dry, lines } = injector(c, { kinds: ['slow'], seed: 42, slowDelayMs: 0 });
      for (let i = 0; i < 4; i++) await dry.injectOnce();
      dry.stop();
      // Every one really injected into a replica: four skipped ones would compare equal too.
      expect(lines.map((l) => [l.outcome, typeof l.target?.id])).toEqual(
        Array(4).fill(['injected', 'string']),
      );
      return lines.map((l) => l.target?.id);
    };
    expect(await picks()).toEqual(await picks());
  });

  it('hedge trade runs a script from stdin, showing who answered each call', async () => {
    const script = [
      'register term_user terminal123',
      'login term_user terminal123',
      'deposit 500.25',
      'buy ABC 3',
      'sell ABC 1',
      'portfolio',
      'buy ABC 1000000',
      'frobnicate',
    ].join('\n');
    const child = execFile(process.execPath, tradeArgs(c, '--mode', 'hedged'));
    child.stdin?.end(`${script}\n`);
    let out = '';
    let err = '';
    child.stdout?.on('data', (d) => {
      out += d;
    });
    child.stderr?.on('data', (d) => {
      err += d;
    });
    await new Promise((resolve) => child.on('exit', resolve));
    // Two lines of the script failed: a script's refusals go to stderr and fail the run.
    expect(child.exitCode).toBe(1);
    expect(out).toContain('registered term_user');
    expect(out).toContain('cash 500.25, reserved 0.00');
    expect(out).toMatch(/bought 3 ABC at 10\.00 = 30\.00; cash 470\.25/);
    expect(out).toMatch(/sold 1 ABC at 10\.00 = 10\.00; cash 480\.25/);
    expect(out).toMatch(/ABC\s+2\s+0/);
    expect(err).toContain('error: FAILED_PRECONDITION INSUFFICIENT_FUNDS');
    expect(err).toContain('unknown command "frobnicate"');
    expect(out).toMatch(/\[hedged · answered by r\d in [\d.]+ ms · 2 attempt\(s\) · view \d+\]/);
  });

  it('hedge verify passes after trading, and finds a duplicate effect and a balance the ledger does not explain', async () => {
    const sessions = await Promise.all([c.session('active'), c.session('hedged')]);
    expect((await tradeMany(sessions, c.quotes, 40)).failed).toEqual([]);
    const clean = await hedge('verify', '--database-url', c.db.url, '--json');
    expect(clean.code).toBe(0);
    const report = JSON.parse(clean.stdout);
    expect(report).toMatchObject({ duplicate_effects: 0, violations: [] });
    expect(report.effects).toBeGreaterThanOrEqual(40);
    expect(report.requests).toBeGreaterThan(report.effects);

    // Replay one buy's ledger entry in a transaction of its own: a second effect under one request id.
    await c.db.pool.query(
      `INSERT INTO ledger (request_id, user_id, kind, symbol, cash_delta, shares_delta)
       SELECT request_id, user_id, kind, symbol, cash_delta, shares_delta FROM ledger WHERE kind = 'buy' LIMIT 1`,
    );
    await c.db.pool.query(
      'UPDATE accounts SET cash = cash + 1 WHERE user_id = (SELECT min(user_id) FROM accounts)',
    );
    const broken = await hedge('verify', '--database-url', c.db.url, '--json');
    expect(broken.code).toBe(1);
    const bad = JSON.parse(broken.stdout);
    expect(bad.duplicate_effects).toBe(1);
    expect(bad.violations.map((v: { check: string }) => v.check)).toEqual(
      expect.arrayContaining([
        'a request id with more than one effect',
        'cash or reserved cash that the ledger does not reproduce',
        'shares or reserved shares that the ledger does not reproduce',
      ]),
    );
  });
});
