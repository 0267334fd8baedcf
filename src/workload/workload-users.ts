import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { readOrCreateSecret } from '../common/secret-file.js';

/**
 * Workload users are real users: the replayer registers each one (or logs in,
 * if it exists) with a password derived from a secret kept in the data
 * directory (mode 0600), and acts as that user with that user's session. Nobody
 * without the secret can log in as them; there is no way to act for a user
 * without logging in as that user.
 */
export function workloadSecret(dataDir: string): Buffer {
  return Buffer.from(readOrCreateSecret(join(dataDir, 'workload-secret'), 32), 'utf8');
}

export function workloadPassword(secret: Buffer, username: string): string {
  return createHmac('sha256', secret).update(`hedge workload user:${username}`).digest('base64url');
}
