import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../common/logger.js';

/**
 * The lease's TTL in seconds. etcd 3.4 raises any shorter TTL to its minimum,
 * 1.5 election timeouts rounded up (2 s with its default 1 s election timeout):
 * a standby takes over about that long after the active manager dies.
 */
export const LEASE_TTL_SECONDS = 2;
/** How often the active manager renews its lease: several renewals per TTL, so one slow answer costs nothing. */
const KEEPALIVE_INTERVAL_MS = 400;
/**
 * Without a renewal sent this long ago and answered, the lease is taken as lost. Every
 * action asks (`held`) when it is taken, so the margin below the TTL covers only the
 * action itself and the standby's poll, not a timer's tick.
 */
const LOST_AFTER_MS = LEASE_TTL_SECONDS * 1000 - 500;
/** How often a standby looks whether the key is free. */
const STANDBY_POLL_MS = 200;
/** One etcd request, before the next endpoint is asked. */
const REQUEST_TIMEOUT_MS = 1_000;
/** The key the active manager holds, under its lease. */
export const MANAGER_LEADER_KEY = '/hedge/manager/leader';

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** etcd's v3 API through its JSON gateway (etcd 3.4 serves it on every client URL): no client library needed. */
class EtcdHttp {
  private preferred = 0;

  constructor(private readonly endpoints: string[]) {
    if (endpoints.length === 0) throw new Error('the manager lease needs at least one etcd endpoint');
  }

  /** POSTs to the endpoint that last answered, then each other one in turn. */
  async post<T>(path: string, body: unknown): Promise<T> {
    let last: unknown;
    for (let n = 0; n < this.endpoints.length; n++) {
      const i = (this.preferred + n) % this.endpoints.length;
      try {
        const response = await fetch(`${this.endpoints[i]}${path}`, {
          method: 'POST',
          body: JSON.stringify(body),
          headers: { 'content-type': 'application/json' },
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
        this.preferred = i;
        return (await response.json()) as T;
      } catch (err) {
        last = err;
      }
    }
    throw last instanceof Error ? last : new Error(String(last));
  }
}

export interface Leadership {
  /**
   * Whether the lease is still held by this process's own monotonic clock: a renewal
   * sent less than LOST_AFTER_MS ago was answered. Asked before every action that
   * changes the world (a view, a spawn, a kill, a registry write): a process resumed
   * after a pause longer than the TTL must not act before its timer fires. False
   * once, and the lease is given up as lost (`onLost` is called).
   */
  held(): boolean;
  /** Gives the key up at once (revokes the lease), so a standby takes over without waiting for the TTL. */
  release(): Promise<void>;
}

export interface LeaseOptions {
  /** etcd client URLs, e.g. http://127.0.0.1:2379. */
  endpoints: string[];
  /** What the key holds while this manager is active: its address, for a person reading etcd. */
  holder: string;
  key?: string;
  log: Logger;
  /**
   * Called once if the lease is lost (not renewed within its TTL: etcd unreachable,
   * or this process was paused that long). A standby may already be active: the
   * caller must stop supervising at once (the manager exits).
   */
  onLost(why: string): void;
  /** Called once, when the key is first found held by another manager: this one stands by. */
  onStandby?(): void;
  /** Stops waiting (the process is stopping). */
  signal?: AbortSignal;
}

interface TxnAnswer {
  succeeded?: boolean;
}

/**
 * Waits until this manager holds the manager key in etcd under a lease of its
 * own (a put only if the key does not exist, so one holder at a time), then
 * renews the lease for as long as the process lives. Leadership ends when the
 * lease does: this process dying, or not renewing within the TTL (then
 * `onLost`). The key's existence, not any local belief, decides who is active.
 */
export async function acquireLeadership(options: LeaseOptions): Promise<Leadership> {
  const etcd = new EtcdHttp(options.endpoints);
  const key = b64(options.key ?? MANAGER_LEADER_KEY);
  const { log } = options;
  let waitingSaid = false;
  let lease: string | undefined;
  /** When the grant of the lease now held was asked for: its TTL runs from no earlier. */
  let grantedAt = 0;
  for (;;) {
    if (options.signal?.aborted) throw new Error('stopped while waiting for the manager lease');
    try {
      const range = await etcd.post<{ kvs?: unknown[] }>('/v3/kv/range', { key, keys_only: true });
      if (!range.kvs?.length) {
        grantedAt = performance.now();
        const grant = await etcd.post<{ ID: string }>('/v3/lease/grant', { TTL: LEASE_TTL_SECONDS });
        lease = grant.ID;
        const txn = await etcd.post<TxnAnswer>('/v3/kv/txn', {
          compare: [{ key, target: 'CREATE', result: 'EQUAL', create_revision: '0' }],
          success: [{ request_put: { key, value: b64(options.holder), lease } }],
        });
        if (txn.succeeded) break;
        await etcd.post('/v3/lease/revoke', { ID: lease }).catch(() => {});
        lease = undefined;
      } else if (!waitingSaid) {
        waitingSaid = true;
        log.info('another manager is active; standing by until its lease ends');
        options.onStandby?.();
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'etcd did not answer the manager lease; trying again');
    }
    await delay(STANDBY_POLL_MS);
  }
  const id = lease as string;
  log.info({ lease: id }, 'holding the manager lease: active');
  // Monotonic: a wall clock stepped back (NTP) must not make an old renewal look recent.
  let renewedAt = grantedAt;
  const keepAlive = async (): Promise<boolean> => {
    const asked = performance.now();
    const answer = await etcd.post<{ result?: { TTL?: string } }>('/v3/lease/keepalive', { ID: id });
    if (Number(answer.result?.TTL ?? 0) <= 0) return false;
    renewedAt = Math.max(renewedAt, asked);
    return true;
  };
  // Renewed once before acting: on a loaded machine the grant and the put may have taken a while.
  await keepAlive().catch(() => false);
  let ended = false;
  const lost = (why: string) => {
    if (ended) return;
    ended = true;
    clearInterval(timer);
    options.onLost(why);
  };
  // etcd expires the key TTL after the last renewal it received, which came after `renewedAt`
  // (the time it was sent); giving up a margin earlier, asked at every action, means this
  // manager has stopped acting before a standby can take the key.
  const held = (): boolean => {
    if (ended) return false;
    const silentMs = performance.now() - renewedAt;
    if (silentMs <= LOST_AFTER_MS) return true;
    lost(`the manager lease was not renewed for ${Math.round(silentMs)} ms`);
    return false;
  };
  const timer = setInterval(() => {
    // Checked before asking: a process resumed after a pause must not act as active.
    if (!held()) return;
    keepAlive().then(
      (alive) => {
        if (!alive) lost('the manager lease expired');
      },
      () => {},
    );
  }, KEEPALIVE_INTERVAL_MS);
  return {
    held,
    release: async () => {
      if (ended) return;
      ended = true;
      clearInterval(timer);
      await etcd.post('/v3/lease/revoke', { ID: id }).catch(() => {});
    },
  };
}
