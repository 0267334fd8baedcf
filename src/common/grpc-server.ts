import { Server as GrpcServer, type Server } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { authorizeByRole } from '../tls/roles.js';
import { serverCredentials } from '../tls/transport.js';
import { healthPackageDefinition } from './health.js';
import { loadProtoFiles } from './proto.js';
import { SERVER_LIMITS } from './server-limits.js';

export interface ServedServices {
  /** Full names of the services this server registers, e.g. hedge.v1.Trading; health reports each. */
  services: string[];
  /** The .proto files that define them, for reflection to describe (and nothing more). */
  protoFiles: string[];
}

export interface StartedServer {
  server: Server;
  health: HealthImplementation;
  port: number;
  address: string;
  /** What grpc.health.v1 reports for the server and each of its services. */
  setServing(serving: boolean): void;
  /** Stops taking calls, lets the ones in flight finish (up to `graceMs`), then closes. */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * A gRPC server with grpc.health.v1 and server reflection, bound to host:port
 * (port 0 picks a free one). `register` adds the process's own services.
 * The empty service name reports the whole process's health.
 */
export async function startGrpcServer(
  host: string,
  port: number,
  register: (server: Server) => void,
  served: ServedServices,
): Promise<StartedServer> {
  const servingServices = served.services;
  const server = new GrpcServer({
    'grpc.max_receive_message_length': SERVER_LIMITS.maxMessageBytes,
    'grpc.max_send_message_length': SERVER_LIMITS.maxMessageBytes,
    'grpc.max_concurrent_streams': SERVER_LIMITS.maxConcurrentStreams,
    'grpc.keepalive_permit_without_calls': 1,
    // Who may call what, from the caller's certificate (roles.ts).
    interceptors: [authorizeByRole],
  });
  register(server);
  const health = new HealthImplementation(
    Object.fromEntries(['', ...servingServices].map((s) => [s, 'SERVING' as const])),
  );
  health.addToServer(server);
  new ReflectionService({ ...loadProtoFiles(served.protoFiles), ...healthPackageDefinition() }).addToServer(
    server,
  );
  // An IPv6 host ('::', '::1') is bracketed, in the bind target as in the address.
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${hostPart}:${port}`, serverCredentials(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const address = `${hostPart}:${bound}`;
  const setServing = (serving: boolean) => {
    for (const s of ['', ...servingServices]) health.setStatus(s, serving ? 'SERVING' : 'NOT_SERVING');
  };
  return {
    server,
    health,
    port: bound,
    address,
    setServing,
    shutdown: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        setServing(false);
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
