import { Server, type ServerUnaryCall, type ServiceError, type sendUnaryData, status } from '@grpc/grpc-js';
import { afterEach } from 'vitest';
import { ReplicatedClient, type ReplicatedClientOptions } from '../../src/client/replicated-client.js';
import { hedgeProto } from '../../src/common/proto.js';
import type { Portfolio } from '../../src/gen/hedge/v1/Portfolio.js';
import { serverCredentials } from '../../src/tls/transport.js';

export type Behaviour = 'ok' | 'internal' | 'unavailable' | 'silent';

/** A real gRPC server that answers GetPortfolio as told, and counts the calls it got. */
export interface FakeReplica {
  address: string;
  calls: number;
  /** When each call arrived (performance.now()). */
  calledAt: number[];
  server: Server;
  pending: sendUnaryData<Portfolio>[];
}

export async function fakeReplica(behaviour: Behaviour): Promise<FakeReplica> {
  const server = new Server();
  const replica: FakeReplica = { address: '', calls: 0, calledAt: [], server, pending: [] };
  server.addService(hedgeProto().Trading.service, {
    GetPortfolio: (_call: ServerUnaryCall<unknown, Portfolio>, callback: sendUnaryData<Portfolio>) => {
      replica.calls += 1;
      replica.calledAt.push(performance.now());
      if (behaviour === 'ok') callback(null, { account: { cash: '7', reserved_cash: '0' }, holdings: [] });
      else if (behaviour === 'internal')
        callback({ code: status.INTERNAL, details: 'the same bug on every replica' } as ServiceError);
      else if (behaviour === 'unavailable')
        callback({ code: status.UNAVAILABLE, details: 'this replica is going away' } as ServiceError);
      else replica.pending.push(callback);
    },
  });
  replica.address = await listen(server);
  return replica;
}

/** Binds a port on loopback; resolves with the address. */
export async function listen(server: Server): Promise<string> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', serverCredentials(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return `127.0.0.1:${port}`;
}

/**
 * A suite's fake replicas and the clients connected to them, all closed after
 * each test (or at `closeAll`, for a test that starts again).
 */
export function useFakeReplicas() {
  const replicas: FakeReplica[] = [];
  const clients: ReplicatedClient[] = [];
  const closeAll = () => {
    for (const c of clients.splice(0)) c.close();
    for (const r of replicas.splice(0)) r.server.forceShutdown();
  };
  afterEach(closeAll);
  /** A client of every replica started so far, named r1, r2, … in order. */
  const connectToAll = async (options: Omit<ReplicatedClientOptions, 'replicas'>) => {
    const client = await ReplicatedClient.connect({
      ...options,
      replicas: replicas.map((r, i) => ({ id: `r${i + 1}`, address: r.address })),
    });
    clients.push(client);
    return client;
  };
  /** A fake replica for each behaviour, and a client of them with a generous deadline. */
  const connect = async (behaviours: Behaviour[], options: Omit<ReplicatedClientOptions, 'replicas'>) => {
    for (const b of behaviours) replicas.push(await fakeReplica(b));
    return connectToAll({ deadlineMs: 20_000, ...options });
  };
  return { replicas, connect, connectToAll, closeAll };
}
