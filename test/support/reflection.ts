import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type ClientDuplexStream, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { channelCredentials } from '../../src/tls/transport.js';

interface ReflectionResponse {
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

/**
 * What grpcurl would ask a server over grpc.reflection.v1: the services it
 * lists, and whether it can describe a symbol.
 */
export async function reflect(address: string, request: object): Promise<ReflectionResponse> {
  const protoDir = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '../proto');
  const pkg = loadPackageDefinition(
    loadSync('grpc/reflection/v1/reflection.proto', { keepCase: true, includeDirs: [protoDir] }),
  ) as unknown as {
    grpc: {
      reflection: {
        v1: {
          ServerReflection: new (
            a: string,
            c: unknown,
          ) => { ServerReflectionInfo(): ClientDuplexStream<object, ReflectionResponse>; close(): void };
        };
      };
    };
  };
  const client = new pkg.grpc.reflection.v1.ServerReflection(address, channelCredentials());
  try {
    return await new Promise((resolve, reject) => {
      const stream = client.ServerReflectionInfo();
      stream.once('data', (response: ReflectionResponse) => {
        resolve(response);
        stream.end();
      });
      stream.once('error', reject);
      stream.write(request);
    });
  } finally {
    client.close();
  }
}

export async function listServices(address: string): Promise<string[]> {
  const response = await reflect(address, { list_services: '' });
  return (response.list_services_response?.service ?? []).map((s) => s.name).sort();
}
