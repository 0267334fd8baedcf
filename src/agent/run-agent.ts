import type { Logger } from '../common/logger.js';
import { serveOwning } from '../common/owning-server.js';
import { hedgeProto, PROTO_FILES } from '../common/proto.js';
import { agentHandlers } from './agent-service.js';
import { HostReplicas, type HostReplicasOptions } from './host-replicas.js';

export interface AgentOptions extends HostReplicasOptions {
  /** The host's name, as the manager's --agents list names it. */
  name: string;
  host: string;
  port: number;
}

export interface RunningAgent {
  address: string;
  /** Stops the agent; its replicas keep running (a restarted agent watches them again). */
  stop(): Promise<void>;
}

export async function runAgent(options: AgentOptions, log: Logger): Promise<RunningAgent> {
  const replicas = new HostReplicas(options, log);
  // mTLS (manager role only) plugs in where every hedge server gets its credentials: startGrpcServer.
  const running = await serveOwning(
    options,
    (server) => server.addService(hedgeProto().HostAgent.service, agentHandlers(options.name, replicas, log)),
    { services: ['hedge.v1.HostAgent'], protoFiles: [PROTO_FILES.agent] },
    { release: () => replicas.stop() },
  );
  log.info(
    { address: running.address, host: options.name, replicas: replicas.list().length },
    'host agent serving',
  );
  return running;
}
