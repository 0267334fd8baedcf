import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAgent, runAgent } from '../src/agent/run-agent.js';
import { createLogger } from '../src/common/logger.js';
import { makeTempDataDir } from '../src/common/paths.js';
import { hedgeProto } from '../src/common/proto.js';
import { deadlineAfter, invoke } from '../src/common/rpc.js';
import type { HostAgentClient } from '../src/gen/hedge/v1/HostAgent.js';
import { agentChannelCredentials } from '../src/replication-manager/agent-credentials.js';

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
