import { hedgeProto } from '../common/proto.js';
import { deadlineAfter, invoke, PEER_CHANNEL_OPTIONS } from '../common/rpc.js';
import type { ManagerStatus__Output } from '../gen/hedge/v1/ManagerStatus.js';
import type { Membership__Output } from '../gen/hedge/v1/Membership.js';
import type { ReplicationManagerClient } from '../gen/hedge/v1/ReplicationManager.js';
import { channelCredentials } from '../tls/transport.js';

export type { ManagerStatus__Output as ManagerStatus, Membership__Output as Membership };

export function managerClient(address: string): ReplicationManagerClient {
  return new (hedgeProto().ReplicationManager)(address, channelCredentials('manager'), PEER_CHANNEL_OPTIONS);
}

export function fetchStatus(
  client: ReplicationManagerClient,
  timeoutMs = 2_000,
): Promise<ManagerStatus__Output> {
  return invoke((cb) => client.GetStatus({}, { deadline: deadlineAfter(timeoutMs) }, cb));
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
  return invoke((cb) => client.GetMembership({}, { deadline: deadlineAfter(timeoutMs) }, cb));
}
