import type { Server } from '@grpc/grpc-js';
import { type ServedServices, type StartedServer, startGrpcServer } from './grpc-server.js';

/** How long calls in flight may take to finish when a process's server stops. */
const SHUTDOWN_GRACE_MS = 2_000;

export interface OwningServer {
  address: string;
  /** Frees what the server owns, then stops it. */
  stop(): Promise<void>;
}

export interface Owned {
  /** Frees what the process owns; runs before the server shuts down. */
  release(): Promise<void> | void;
  /** Brings the process up once its server is bound. */
  ready?(): Promise<void> | void;
}

/**
 * A process's gRPC server (startGrpcServer's) over resources it owns: replicas,
 * pools, watches. They are released before the server shuts down, on stop and
 * when starting fails: nothing may outlive a process that failed to start, not
 * the resources, nor a server already bound that would keep the process alive.
 */
export async function serveOwning(
  at: { host: string; port: number },
  register: (server: Server) => void,
  served: ServedServices,
  owned: Owned,
): Promise<OwningServer> {
  let started: StartedServer | undefined;
  const stop = async () => {
    await owned.release();
    await started?.shutdown(SHUTDOWN_GRACE_MS);
  };
  try {
    started = await startGrpcServer(at.host, at.port, register, served);
    await owned.ready?.();
  } catch (err) {
    await stop();
    throw err;
  }
  return { address: started.address, stop };
}
