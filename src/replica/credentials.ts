import { createHash } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import { invalidArgument, unauthenticated } from '../common/errors.js';
import { SESSION_TOKEN } from '../common/session-token.js';

/** The database keeps only this hash of a token. */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The token hash from `authorization: Bearer <token>`, or UNAUTHENTICATED. */
export function sessionTokenHash(metadata: Metadata): Buffer {
  const header = metadata.get('authorization')[0];
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) {
    // What a person is told; the reason code is what programs look at.
    throw unauthenticated('SESSION_MISSING', 'log in first: this needs a session (register or log in)');
  }
  const token = header.slice('Bearer '.length);
  if (!SESSION_TOKEN.test(token))
    throw unauthenticated('SESSION_INVALID', 'the session token is malformed; log in');
  return hashToken(token);
}

/** The token a Register or Login request brings for its new session. */
export function parseNewSessionToken(text: string): string {
  if (!SESSION_TOKEN.test(text)) {
    throw invalidArgument(
      'INVALID_SESSION_TOKEN',
      'session_token must be 43 base64url characters (32 random bytes) chosen by the client; ' +
        'every copy of the request carries the same one',
      'session_token',
    );
  }
  return text;
}
