import type { ChannelCredentials } from '@grpc/grpc-js';
import { channelCredentials } from '../tls/transport.js';

/**
 * The one place where the agent's channel credentials come from: the manager
 * dials every agent with its own certificate (or plaintext under --insecure) and
 * checks that the agent presents the manager role, which agents hold because they
 * act only for the manager (roles.ts lets only the manager call an agent).
 */
export function agentChannelCredentials(): ChannelCredentials {
  return channelCredentials('manager');
}
