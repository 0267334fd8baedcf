import { type ChannelCredentials, credentials } from '@grpc/grpc-js';

/**
 * The one place where the agent's channel credentials come from: the manager
 * dials every agent with these. Plain TCP today; mTLS (the agent accepting only a
 * certificate with the manager's role, the manager checking the agent's) plugs in
 * here, and the agent's server side where every hedge server gets its own
 * (run-agent.ts uses the same startGrpcServer as the others).
 */
export function agentChannelCredentials(): ChannelCredentials {
  return credentials.createInsecure();
}
