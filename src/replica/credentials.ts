import { createHash, randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import { unauthenticated } from '../common/errors.js';

/**
 * scrypt at N = 2^15, r = 8, p = 1 (32 MiB, about 90 ms on this project's 2-core
 * reference machine): a real work factor for a password hash. It runs on libuv's
 * thread pool, off the event loop.
 */
const SCRYPT: ScryptOptions & { N: number; r: number; p: number } = {
  N: 2 ** 15,
  r: 8,
  p: 1,
  maxmem: 64 * 1024 * 1024,
};
const KEY_LENGTH = 32;

export interface PasswordHash {
  params: string;
  salt: Buffer;
  hash: Buffer;
}

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<PasswordHash> {
  const salt = randomBytes(16);
  return {
    params: `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}`,
    salt,
    hash: await derive(password, salt, SCRYPT),
  };
}

/** A stand-in for unknown users, so a wrong username costs as much time as a wrong password. */
const DUMMY: PasswordHash = {
  params: `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}`,
  salt: Buffer.alloc(16),
  hash: Buffer.alloc(KEY_LENGTH),
};

export async function verifyPassword(password: string, stored: PasswordHash | undefined): Promise<boolean> {
  const target = stored ?? DUMMY;
  const [scheme, n, r, p] = target.params.split('$');
  if (scheme !== 'scrypt') return false;
  const key = await derive(password, target.salt, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return stored !== undefined && key.length === target.hash.length && timingSafeEqual(key, target.hash);
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** 256 random bits, base64url. */
export function newSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The database keeps only this hash of a token. */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The token hash from `authorization: Bearer <token>`, or UNAUTHENTICATED. */
export function sessionTokenHash(metadata: Metadata): Buffer {
  const header = metadata.get('authorization')[0];
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) {
    throw unauthenticated(
      'SESSION_MISSING',
      'this call needs a session: send "authorization: Bearer <token>" from Login',
    );
  }
  const token = header.slice('Bearer '.length);
  if (!TOKEN.test(token)) throw unauthenticated('SESSION_INVALID', 'the session token is malformed; log in');
  return hashToken(token);
}
