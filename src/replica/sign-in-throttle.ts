import { isIP } from 'node:net';
import { status } from '@grpc/grpc-js';
import type { PoolClient } from '../common/database.js';
import { HedgeError } from '../common/errors.js';

/**
 * How failed sign-ins slow the next ones (README, "Limits"). Each key has free
 * failures; after them every failure doubles the wait before an attempt under
 * that key is checked at all (no scrypt, no answer about the password), from
 * `baseDelayMs` up to `capMs`. A key with no failure for `capMs` starts over.
 */
export interface SignInLimits {
  baseDelayMs: number;
  capMs: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = { baseDelayMs: 1_000, capMs: 15 * 60_000 };

/**
 * Free failures per key. One username from one peer is the guessing loop, and is
 * slowed soonest; the same username from anywhere slows a guesser with many
 * addresses (and, past 20, its owner too: the price of stopping it); one peer
 * for any username slows trying one password on many accounts.
 */
export const FREE_FAILURES = {
  loginUserAtPeer: 5,
  loginUser: 20,
  loginPeer: 20,
  registerUser: 5,
  registerPeer: 20,
} as const;

/**
 * The address part of grpc-js's peer ("127.0.0.1:5000", "::ffff:127.0.0.1:5000",
 * "::1:5000", "[::1]:5000", with or without an "ipv4:"/"ipv6:" prefix), the port dropped and an
 * IPv4-mapped address as IPv4: one client is one peer whatever the server listens on.
 */
export function peerHost(peer: string): string {
  const rest = peer.replace(/^(ipv4|ipv6|unix):/, '');
  const bracketed = /^\[([^\]]*)\]/.exec(rest);
  let host = bracketed ? (bracketed[1] as string) : rest;
  // grpc-js appends the port to an unbracketed address ("::1:5000"): drop it whenever what stays is an address.
  if (!bracketed) {
    const withoutPort = host.slice(0, host.lastIndexOf(':'));
    if (isIP(withoutPort) !== 0) host = withoutPort;
  }
  return host.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
}

interface Keys {
  keys: string[];
  free: number[];
}

export function loginKeys(username: string, peer: string): Keys {
  return {
    keys: [`login:${username}@${peer}`, `login-user:${username}`, `login-peer:${peer}`],
    free: [FREE_FAILURES.loginUserAtPeer, FREE_FAILURES.loginUser, FREE_FAILURES.loginPeer],
  };
}

export function registerKeys(username: string, peer: string): Keys {
  return {
    keys: [`register-user:${username}`, `register-peer:${peer}`],
    free: [FREE_FAILURES.registerUser, FREE_FAILURES.registerPeer],
  };
}

/**
 * The throttle's state is in the database (sql/sign_in_throttle.sql), read and
 * written in the sign-in's own claimed transaction: every replica answers a
 * guessing loop alike, and the copies of one request count once.
 */
export class SignInThrottle {
  constructor(private readonly limits: SignInLimits = DEFAULT_SIGN_IN_LIMITS) {}

  /** RESOURCE_EXHAUSTED, with when to retry, while any of the keys is blocked. */
  async check(tx: PoolClient, { keys }: Keys, what: string): Promise<void> {
    const { rows } = await tx.query<{ wait: number }>({
      name: 'sign_in_wait',
      text: 'SELECT sign_in_wait($1::text[]) AS wait',
      values: [keys],
    });
    const wait = rows[0]?.wait ?? 0;
    if (wait > 0) {
      throw new HedgeError(
        status.RESOURCE_EXHAUSTED,
        'SIGN_IN_THROTTLED',
        `too many failed ${what} attempts; retry after ${wait} s`,
        undefined,
        wait * 1000,
      );
    }
  }

  async failed(tx: PoolClient, { keys, free }: Keys): Promise<void> {
    await tx.query({
      name: 'sign_in_failed',
      text: 'SELECT sign_in_failed($1::text[], $2::integer[], $3, $4)',
      values: [keys, free, this.limits.baseDelayMs, this.limits.capMs],
    });
  }

  /** Clears the username's keys (the peer's stay). */
  async succeeded(tx: PoolClient, { keys }: Keys): Promise<void> {
    await tx.query({
      name: 'sign_in_succeeded',
      text: 'SELECT sign_in_succeeded($1::text[])',
      values: [keys.filter((k) => !k.startsWith('login-peer:'))],
    });
  }
}
