import { randomBytes } from 'node:crypto';

/** 32 bytes, base64url without padding. */
export const SESSION_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/**
 * A new bearer token: 256 random bits. The client picks it and sends it with
 * Register or Login, so every copy of the request carries the same one and the
 * database never needs to hold it (only its hash).
 */
export function newSessionToken(): string {
  return randomBytes(32).toString('base64url');
}
