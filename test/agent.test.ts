import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAgent, runAgent } from '../src/agent/run-agent.js';
import { createLogger } from '../src/common/logger.js';
import { makeTempDataDir } from '../src/common/paths.js';
import { hedgeProto } from '../src/common/proto.js';
import { residentBytes } from '../src/common/replica-process.js';
import { deadlineAfter, invoke } from '../src/common/rpc.js';
import type { HostAgentClient } from '../src/gen/hedge/v1/HostAgent.js';
import { agentChannelCredentials } from '../src/replication-manager/agent-credentials.js';
import { AgentLauncher } from '../src/replication-manager/agents.js';
import { useTestDatabase } from './support/database.js';
import { useTestFeed } from './support/feed.js';

describe('hedge agent: bad requests', () => {
  let dir: string;
  let agent: RunningAgent;
  let client: HostAgentClient;
  beforeAll(async () => {
    dir = makeTempDataDir('hedge-agent-');
    agent = await runAgent(
      {
        name: 'h1',
        host: '127.0.0.1',
        port: 0,
        replicaHost: '127.0.0.1',
        dataDir: dir,
        databaseUrl: 'postgres://unused@127.0.0.1:1/unused',
        stateDir: join(dir, 'agent', 'h1'),
      },
      createLogger('test-agent'),
    );
    client = new (hedgeProto().HostAgent)(agent.address, agentChannelCredentials());
  });
  afterAll(async () => {
    client.close();
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const failure = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (err: ServiceError) => err,
    );

  it('refuses a replica id that is no slot id, and a signal other than kill, term, stop or cont; starts nothing', async () => {
    const badId = await failure(
      invoke((cb) => client.StartReplica({ id: '../x' }, { deadline: deadlineAfter(5_000) }, cb)),
    );
    expect(badId?.code).toBe(status.INVALID_ARGUMENT);
    expect(badId?.details).toMatch(/id must be/);
    const badSignal = await failure(
      invoke((cb) =>
        client.SignalReplica(
          { id: 'r1', pid: process.pid, signal: 'SIGHUP' },
          { deadline: deadlineAfter(5_000) },
          cb,
        ),
      ),
    );
    expect(badSignal?.code).toBe(status.INVALID_ARGUMENT);
    // Not one of its replicas (this test process): nothing is signalled.
    const notOurs = await invoke<{ delivered: boolean }>((cb) =>
      client.SignalReplica(
        { id: 'r1', pid: process.pid, signal: 'SIGKILL' },
        { deadline: deadlineAfter(5_000) },
        cb,
      ),
    );
    expect(notOurs.delivered).toBe(false);
    const listed = await invoke<{ host: string; replicas: unknown[] }>((cb) =>
      client.ListReplicas({}, { deadline: deadlineAfter(5_000) }, cb),
    );
    expect(listed).toEqual({ host: 'h1', replicas: [] });
  });

  it('a replica that cannot start (no database, no feed key) is UNAVAILABLE with the reason, and is not listed', async () => {
    const failed = await failure(
      invoke((cb) => client.StartReplica({ id: 'r1' }, { deadline: deadlineAfter(40_000) }, cb)),
    );
    expect(failed?.code).toBe(status.UNAVAILABLE);
    expect(failed?.details).toMatch(/replica r1 did not start on h1/);
    const listed = await invoke<{ replicas: unknown[] }>((cb) =>
      client.ListReplicas({}, { deadline: deadlineAfter(5_000) }, cb),
    );
    expect(listed.replicas).toEqual([]);
  }, 60_000);
});

describe("hedge agent: a replica's resident memory", () => {
  const db = useTestDatabase();
  const feed = useTestFeed();
  let agent: RunningAgent;
  let launcher: AgentLauncher;
  beforeAll(async () => {
    agent = await runAgent(
      {
        name: 'h1',
        host: '127.0.0.1',
        port: 0,
        replicaHost: '127.0.0.1',
        dataDir: feed.dataDir,
        databaseUrl: db.url,
        stateDir: join(feed.dataDir, 'agent', 'h1'),
      },
      createLogger('test-agent'),
    );
    launcher = new AgentLauncher([{ name: 'h1', address: agent.address }], createLogger('test-manager'));
    await launcher.connect();
  });
  afterAll(async () => {
    launcher?.close();
    await agent?.stop();
  });

  it('reaches the manager as it changes, not only as it was when the replica started (--rejuvenate-rss on remote hosts)', async () => {
    const { pid } = await launcher.start('r1', { feed: feed.address }).ready;
    try {
      const atStart = launcher.residentBytes('r1', pid);
      expect(atStart).toBeGreaterThan(0);
      // The replica's own /proc entry moves as it runs (its pool, its periodic jobs, the collector)…
      const deadline = Date.now() + 45_000;
      while (residentBytes(pid) === atStart) {
        if (Date.now() > deadline) throw new Error('the replica resident memory never changed');
        await new Promise((r) => setTimeout(r, 100));
      }
      // …and what the manager reads through the agent follows: a later reading, near /proc's.
      for (;;) {
        const told = launcher.residentBytes('r1', pid);
        const now = residentBytes(pid) ?? 0;
        if (told !== undefined && told !== atStart && Math.abs(told - now) < 4 * 1024 * 1024) break;
        if (Date.now() > deadline) throw new Error(`told ${told} bytes, /proc says ${now}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await launcher.signal('r1', pid, 'SIGKILL');
      await launcher.waitForExit('r1', pid, 10_000);
    }
  }, 90_000);
});
