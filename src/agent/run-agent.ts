import { startGrpcServer } from '../common/grpc-server.js';
import type { Logger } from '../common/logger.js';
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
  let started: Awaited<ReturnType<typeof startGrpcServer>>;
  try {
    // mTLS (manager role only) plugs in where every hedge server gets its credentials: startGrpcServer.
    started = await startGrpcServer(
      options.host,
      options.port,
      (server) =>
        server.addService(hedgeProto().HostAgent.service, agentHandlers(options.name, replicas, log)),
      { services: ['hedge.v1.HostAgent'], protoFiles: [PROTO_FILES.agent] },
    );
  } catch (err) {
    replicas.stop();
    throw err;
  }
  log.info(
    { address: started.address, host: options.name, replicas: replicas.list().length },
    'host agent serving',
  );
  return {
    address: started.address,
    stop: async () => {
      replicas.stop();
      await started.shutdown(2_000);
    },
  };
}
