import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fetchStatusFrom } from '../src/client/manager-client.js';
import { QuoteSource } from '../src/client/quote-source.js';
import { ReplicatedClient } from '../src/client/replicated-client.js';
import { TradingSession } from '../src/client/trading-session.js';
import { checkHealth, healthClient } from '../src/common/health.js';
import { exited, type ReadyMessage, spawnHedge } from '../src/common/hedge-process.js';
import { CLI_PATH, makeTempDataDir } from '../src/common/paths.js';
import { isAlive, signalQuietly } from '../src/common/process-state.js';
import { readRunFile } from '../src/common/run-files.js';
import { upCommand } from '../src/up/command.js';
import { descendantsOf, waitUntilGone } from './support/processes.js';
import { waitFor } from './support/wait.js';

const run = promisify(execFile);

/** `hedge <args>` to its end: exit code and output. */
async function hedge(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI_PATH, ...args], {
      env: { ...process.env, DATABASE_URL: '' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

interface Up {
  pid: number;
  ready: ReadyMessage;
  stop(): Promise<void>;
}

async function startUp(dataDir: string): Promise<Up> {
  const up = spawnHedge(['up', '--data-dir', dataDir, '--feed-port', '0', '--manager-port', '0'], {
    output: 'ignore',
    env: { DATABASE_URL: '' },
  });
  const pid = up.child.pid ?? 0;
  const ready = await up.ready;
  return {
    pid,
    ready,
    stop: async () => {
      const processes = descendantsOf(pid);
      signalQuietly(pid, 'SIGCONT');
      up.child.kill('SIGTERM');
      await exited(up.child);
      await waitUntilGone(processes);
    },
  };
}

/** A real trade through the replicated client: register, deposit, buy. */
async function trade(ready: ReadyMessage, user: string): Promise<string | undefined> {
  const client = await ReplicatedClient.connect({ manager: String(ready.managerAddress), mode: 'active' });
  const quotes = new QuoteSource(String(ready.feedAddress));
  try {
    const session = new TradingSession(client);
    await session.register(user, 'a password');
    await session.deposit('1000.00');
    const { response } = await session.buy('ABC', 1, await quotes.get('ABC'));
    return response.trade?.symbol;
  } finally {
    quotes.close();
    client.close();
  }
}

function postmasterPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, 'pg', 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
}

async function healthOf(address: string): Promise<string> {
  const client = healthClient(address);
  try {
    return await checkHealth(client, 2_000);
  } catch (err) {
    return `error: ${(err as Error).message}`;
  } finally {
    client.close();
  }
}

describe('hedge up owns its data directory', () => {
  let dataDir: string;
  let up: Up;
  beforeAll(async () => {
    dataDir = makeTempDataDir('hedge-up-owner-');
    up = await startUp(dataDir);
  }, 120_000);
  afterAll(async () => {
    try {
      await up?.stop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a second up and a db on the same directory refuse, naming the owner, and the first system still trades', async () => {
    const pgBefore = postmasterPid(dataDir);
    const second = await hedge('up', '--data-dir', dataDir, '--feed-port', '0', '--manager-port', '0');
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain(`is in use by hedge up (pid ${up.pid})`);
    const db = await hedge('db', '--data-dir', dataDir);
    expect(db.code).not.toBe(0);
    expect(db.stderr).toContain(`is in use by hedge up (pid ${up.pid})`);

    expect(postmasterPid(dataDir)).toBe(pgBefore);
    expect(isAlive(pgBefore)).toBe(true);
    expect(await trade(up.ready, 'owner_user')).toBe('ABC');
  });

  it('a dead PostgreSQL: replicas NOT_SERVING, status shows the database down, up restarts it, trading resumes without replacing replicas', async () => {
    const manager = String(up.ready.managerAddress);
    const before = await fetchStatusFrom(manager, 3_000);
    const postmaster = postmasterPid(dataDir);
    // Hold up's restart of the database until the outage has been seen.
    process.kill(up.pid, 'SIGSTOP');
    try {
      process.kill(postmaster, 'SIGKILL');
      for (const r of before.replicas) {
        await waitFor(
          `${r.id} NOT_SERVING`,
          async () => (await healthOf(r.address)) === 'NOT_SERVING',
          30_000,
        );
      }
      await waitFor(
        'the manager to report the database down',
        async () => {
          const s = await fetchStatusFrom(manager, 3_000);
          return (
            s.database === 'DATABASE_STATE_DOWN' &&
            s.replicas.every((r) => r.state === 'REPLICA_STATE_NOT_SERVING')
          );
        },
        30_000,
      );
      const status = await hedge('status', '--data-dir', dataDir);
      expect(status.stdout).toContain('0/3 replicas serving · database down');
      expect(status.stdout).toContain('not serving (no database)');
    } finally {
      process.kill(up.pid, 'SIGCONT');
    }
    await waitFor(
      'the database back and every replica serving',
      async () => {
        const s = await fetchStatusFrom(manager, 3_000).catch(() => undefined);
        return (
          s?.database === 'DATABASE_STATE_UP' &&
          s.replicas.every((r) => r.state === (r.spare ? 'REPLICA_STATE_SPARE' : 'REPLICA_STATE_SERVING'))
        );
      },
      60_000,
    );
    expect(postmasterPid(dataDir)).not.toBe(postmaster);
    for (const r of before.replicas) expect(await healthOf(r.address)).toBe('SERVING');
    expect(await trade(up.ready, 'after_outage')).toBe('ABC');
    const after = await fetchStatusFrom(manager, 3_000);
    expect(after.replicas.map((r) => ({ id: r.id, pid: r.pid, restarts: r.restarts }))).toEqual(
      before.replicas.map((r) => ({ id: r.id, pid: r.pid, restarts: 0 })),
    );
  });
});

describe('hedge up after an up that was killed', () => {
  let dataDir: string;
  const left: number[] = [];
  beforeAll(() => {
    dataDir = makeTempDataDir('hedge-up-killed-');
  });
  afterAll(async () => {
    for (const pid of left) signalQuietly(pid, 'SIGKILL');
    try {
      await waitUntilGone(left);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('SIGKILL of up and its db (PostgreSQL left running): a new up on the directory takes over and trades', async () => {
    const first = await startUp(dataDir);
    const dbPid = Number(readRunFile(dataDir, 'db')?.pid);
    const postmaster = postmasterPid(dataDir);
    left.push(...descendantsOf(first.pid));
    process.kill(dbPid, 'SIGKILL');
    process.kill(first.pid, 'SIGKILL');
    await waitUntilGone([first.pid, dbPid]);
    expect(isAlive(postmaster)).toBe(true);

    const second = await startUp(dataDir);
    try {
      expect(isAlive(postmaster)).toBe(false);
      expect(await trade(second.ready, 'taken_over')).toBe('ABC');
    } finally {
      await second.stop();
    }
  });
});

describe('hedge up ports', () => {
  const dirs: string[] = [];
  let holder: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (holder ? holder.close(() => resolve()) : resolve()));
    holder = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('defaults lie below the ephemeral port range (32768–60999)', () => {
    const defaults = upCommand()
      .options.filter((o) => o.long === '--feed-port' || o.long === '--manager-port')
      .map((o) => Number(o.defaultValue));
    expect(defaults).toHaveLength(2);
    for (const port of defaults) expect(port).toBeLessThan(32768);
  });

  for (const flag of ['--feed-port', '--manager-port']) {
    it(`a taken ${flag} is named, with the flag that chooses another`, async () => {
      holder = createServer();
      const server = holder;
      const port = await new Promise<number>((resolve) =>
        server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
      );
      const dataDir = makeTempDataDir('hedge-up-port-');
      dirs.push(dataDir);
      const other = flag === '--feed-port' ? '--manager-port' : '--feed-port';
      const result = await hedge('up', '--data-dir', dataDir, flag, String(port), other, '0');
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(`port ${port} is in use; choose another with ${flag}`);
    });
  }
});
