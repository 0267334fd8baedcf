import type { ChildProcess } from 'node:child_process';
import type { DedupStrategy } from '../../src/common/dedup-strategy.js';
import { spawnHedge, stopChild } from '../../src/common/hedge-process.js';
import { createLogger } from '../../src/common/logger.js';
import { type RunningReplica, runReplica } from '../../src/replica/run-replica.js';

export interface ReplicaSetup {
  databaseUrl: string;
  feedPublicKeyPath: string;
  strategy?: DedupStrategy;
}

/** A real replica (gRPC server on port 0) in this process. */
export function startInProcessReplica(
  setup: ReplicaSetup & { feedAddress?: string; orderSweepIntervalMs?: number; orderTtlMs?: number },
  id = 'test-replica',
): Promise<RunningReplica> {
  return runReplica(
    {
      id,
      host: '127.0.0.1',
      port: 0,
      databaseUrl: setup.databaseUrl,
      feedPublicKeyPath: setup.feedPublicKeyPath,
      strategy: setup.strategy ?? 'cache',
      poolSize: 4,
      sessionTtlSeconds: 3_600,
      requestRetentionMs: 86_400_000,
      reapIntervalMs: 60_000,
      allowFaultInjection: false,
      feedAddress: setup.feedAddress,
      orderSweepIntervalMs: setup.orderSweepIntervalMs,
      orderTtlMs: setup.orderTtlMs,
    },
    createLogger('replica', { replica: id }),
  );
}

export interface ReplicaProcess {
  id: string;
  address: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** A replica as a real child process (`hedge replica`), tied to this process by a lifeline. */
export async function spawnReplica(
  setup: ReplicaSetup & { feedAddress?: string },
  id: string,
): Promise<ReplicaProcess> {
  const { child, ready } = spawnHedge(
    [
      'replica',
      '--id',
      id,
      '--database-url',
      setup.databaseUrl,
      '--feed-key',
      setup.feedPublicKeyPath,
      '--dedup',
      setup.strategy ?? 'cache',
      '--pool',
      '4',
      ...(setup.feedAddress ? ['--feed', setup.feedAddress] : []),
    ],
    { lifeline: true },
  );
  const message = await ready;
  return { id, address: String(message.address), child, stop: () => stopChild(child) };
}
