import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  type ChannelCredentials,
  type ChannelOptions,
  type Client,
  loadPackageDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { channelCredentials } from '../tls/transport.js';
import { deadlineAfter, PEER_CHANNEL_OPTIONS } from './rpc.js';

interface HealthCheckResponse {
  status: 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
}

interface HealthClient extends Client {
  Check(
    request: { service: string },
    options: { deadline: Date },
    callback: (err: ServiceError | null, response?: HealthCheckResponse) => void,
  ): void;
}

type HealthClientConstructor = new (
  address: string,
  creds: ChannelCredentials,
  options?: ChannelOptions,
) => HealthClient;

let HealthClientClass: HealthClientConstructor | undefined;

const HEALTH_PROTO = join(
  dirname(createRequire(import.meta.url).resolve('grpc-health-check')),
  '../../proto/health/v1/health.proto',
);

/** grpc.health.v1, for reflection to describe alongside a server's own services. */
export function healthPackageDefinition(): PackageDefinition {
  return loadSync(HEALTH_PROTO, { enums: String, keepCase: true });
}

/** A grpc.health.v1 client, from the proto file that grpc-health-check ships; the channel options of rpc.ts unless given. */
export function healthClient(address: string, options: ChannelOptions = PEER_CHANNEL_OPTIONS): HealthClient {
  if (!HealthClientClass) {
    const grpcObject = loadPackageDefinition(healthPackageDefinition()) as unknown as {
      grpc: { health: { v1: { Health: HealthClientConstructor } } };
    };
    HealthClientClass = grpcObject.grpc.health.v1.Health;
  }
  return new HealthClientClass(address, channelCredentials(), options);
}

/** The serving status of `service` ('' for the whole server), or the error the check failed with. */
export function checkHealth(
  client: HealthClient,
  timeoutMs: number,
  service = '',
): Promise<HealthCheckResponse['status']> {
  return new Promise((resolve, reject) =>
    client.Check({ service }, { deadline: deadlineAfter(timeoutMs) }, (err, response) =>
      err ? reject(err) : resolve(response?.status ?? 'UNKNOWN'),
    ),
  );
}
