import { type CallOptions, type ClientUnaryCall, Metadata, type requestCallback } from '@grpc/grpc-js';
import { hedgeProto } from '../common/proto.js';
import { deadlineAfter, invoke, PEER_CHANNEL_OPTIONS } from '../common/rpc.js';
import type { ManagerStatus__Output } from '../gen/hedge/v1/ManagerStatus.js';
import type { Membership__Output } from '../gen/hedge/v1/Membership.js';
import type { ReplicationManagerClient } from '../gen/hedge/v1/ReplicationManager.js';
import { channelCredentials } from '../tls/transport.js';

export type { ManagerStatus__Output as ManagerStatus, Membership__Output as Membership };

/**
 * A channel to the manager at `address`, or to whichever of several answers
 * ("a:1,b:2", the managers of `hedge up --ha`, one active through an etcd lease,
 * the other not listening): grpc-js's ipv4: resolver hands the channel every
 * address, its pick_first policy connects to the first that accepts, and after
 * a disconnect tries them all again, so a standby that takes over is found.
 */
export function managerClient(address: string): ReplicationManagerClient {
  const client = new (hedgeProto().ReplicationManager)(
    managerTarget(address),
    channelCredentials('manager'),
    PEER_CHANNEL_OPTIONS,
  );
  if (address.includes(',')) OVER_A_LIST.add(client);
  return client;
}

/**
 * Clients over several managers. Their calls wait for a connection within the deadline:
 * while pick_first moves from the dead manager to the one that took over, the channel is
 * briefly in transient failure, and a call failing fast there got "No connection
 * established" though the other manager was answering (two clean-clone HA runs).
 */
const OVER_A_LIST = new WeakSet<ReplicationManagerClient>();

function callMetadata(client: ReplicationManagerClient): Metadata {
  return new Metadata({ waitForReady: OVER_A_LIST.has(client) });
}

/** The gRPC target for a manager address or a comma-separated list of IPv4 host:port. */
export function managerTarget(address: string): string {
  const list = address.split(',').map((a) => a.trim());
  if (list.length === 1) return address;
  if (!list.every((a) => /^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(a)))
    throw new Error(`a list of managers must be IPv4 host:port addresses, got "${address}"`);
  return `ipv4:${list.join(',')}`;
}

/** A call of one of the manager's methods that take no argument, with the deadline and metadata each carries. */
function ask<Res>(
  client: ReplicationManagerClient,
  timeoutMs: number,
  call: (metadata: Metadata, options: CallOptions, callback: requestCallback<Res>) => ClientUnaryCall,
): Promise<Res> {
  return invoke((cb) => call(callMetadata(client), { deadline: deadlineAfter(timeoutMs) }, cb));
}

export function fetchStatus(
  client: ReplicationManagerClient,
  timeoutMs = 2_000,
): Promise<ManagerStatus__Output> {
  return ask(client, timeoutMs, (metadata, options, cb) => client.GetStatus({}, metadata, options, cb));
}

/** The status from the manager at `address`, over a channel opened for this call alone. */
export async function fetchStatusFrom(address: string, timeoutMs = 2_000): Promise<ManagerStatus__Output> {
  const client = managerClient(address);
  try {
    return await fetchStatus(client, timeoutMs);
  } finally {
    client.close();
  }
}

export function fetchMembership(
  client: ReplicationManagerClient,
  timeoutMs = 2_000,
): Promise<Membership__Output> {
  return ask(client, timeoutMs, (metadata, options, cb) => client.GetMembership({}, metadata, options, cb));
}
