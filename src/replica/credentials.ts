import { createHash, randomBytes } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import { unauthenticated } from '../common/errors.js';

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
