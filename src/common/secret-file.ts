import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A secret kept in a file readable by its owner alone: made of `bytes` random
 * bytes on first use, read (trimmed) ever after. Processes that start together
 * may race to make it: the first write wins and every one reads that.
 */
export function readOrCreateSecret(path: string, bytes: number): string {
  mkdirSync(dirname(path), { recursive: true });
  try {
    writeFileSync(path, randomBytes(bytes).toString('base64url'), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return readFileSync(path, 'utf8').trim();
}

/** A secret file that must already exist, trimmed. */
export function readSecret(path: string): string {
  return readFileSync(path, 'utf8').trim();
}
