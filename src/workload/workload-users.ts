import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Workload users are real users: the replayer registers each one (or logs in,
 * if it exists) with a password derived from a secret kept in the data
 * directory (mode 0600), and acts as that user with that user's session. Nobody
 * without the secret can log in as them; there is no way to act for a user
 * without logging in as that user.
 */
export function workloadSecret(dataDir: string): Buffer {
  const path = join(dataDir, 'workload-secret');
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, randomBytes(32).toString('base64url'), { mode: 0o600 });
  }
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'utf8');
}

export function workloadPassword(secret: Buffer, username: string): string {
  return createHmac('sha256', secret).update(`hedge workload user:${username}`).digest('base64url');
}
