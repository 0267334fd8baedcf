import { mkdirSync } from 'node:fs';
import { DatabaseWatch } from '../common/database-watch.js';
import type { Logger } from '../common/logger.js';
import { serveOwning } from '../common/owning-server.js';
import { hedgeProto, PROTO_FILES } from '../common/proto.js';
import { AgentLauncher } from './agents.js';
import { managerMetrics } from './manager-metrics.js';
import { managerHandlers } from './manager-service.js';
import { MembershipPublisher } from './membership.js';
import { readRegistry } from './registry.js';
import { Supervisor, type SupervisorOptions } from './supervisor.js';

export interface ManagerOptions extends SupervisorOptions {
  host: string;
  port: number;
  /** Host agents to start replicas through (`--agents`); none: the manager spawns them itself. */
  agents?: { name: string; address: string }[];
}

export interface RunningManager {
  address: string;
  /** Stops the manager and every replica it owns. */
  stop(): Promise<void>;
  /** Stops the manager and leaves its replicas serving, for the manager that takes over (Supervisor.detach). */
  handOver(): Promise<void>;
}

export async function runManager(options: ManagerOptions, log: Logger): Promise<RunningManager> {
  mkdirSync(options.logDir, { recursive: true });
  const previous = readRegistry(options.registryPath);
  // Held until the replicas are adopted: clients keep their last view meanwhile, not an empty one.
  const membership = new MembershipPublisher(previous?.view ?? 0, { held: true });
  const launcher = options.agents?.length
    ? new AgentLauncher(options.agents, log, options.mayAct)
    : options.launcher;
  const supervisor = new Supervisor({ ...options, launcher }, membership, log);
  managerMetrics.watch({ viewNumber: () => membership.viewNumber, replicas: () => supervisor.status() });
  const startedAtMs = Date.now();
  let handingOver = false;
  // Reported by GetStatus: replicas that are not serving for want of the database are told apart from faulty ones.
  const database = new DatabaseWatch(
    options.databaseUrl,
    { applicationName: 'hedge-manager-health' },
    () => {},
    log,
  ).start();
  const running = await serveOwning(
    options,
    (server) =>
      server.addService(
        hedgeProto().ReplicationManager.service,
        managerHandlers(supervisor, membership, database, options, startedAtMs, log),
      ),
    { services: ['hedge.v1.ReplicationManager'], protoFiles: [PROTO_FILES.manager] },
    {
      // The replicas spawned so far, the database pool and the membership watches.
      release: async () => {
        await (handingOver ? supervisor.detach() : supervisor.stop());
        await database.stop();
        membership.endWatches();
      },
      ready: async () => {
        await supervisor.start(previous);
        membership.open();
      },
    },
  );
  log.info(
    { address: running.address, view: membership.viewNumber, serving: supervisor.serving().length },
    'replication manager serving',
  );
  return {
    ...running,
    handOver: () => {
      handingOver = true;
      return running.stop();
    },
  };
}
