import { type ChannelCredentials, credentials } from '@grpc/grpc-js';

/**
 * The one place where the agent's channel credentials come from: the manager
 * dials every agent with these. Plain TCP today; mTLS (the agent accepting only a
 * certificate with the manager's role, the manager checking the agent's) plugs in
 * here and in the agent's server (run-agent.ts passes its server to the same
 * startGrpcServer every hedge server uses).
 */
export function agentChannelCredentials(): ChannelCredentials {
  return credentials.createInsecure();
}
