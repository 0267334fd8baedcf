import pg from 'pg';
import { type DatabaseNode, databaseNodes, nodeName } from './database-nodes.js';
import type { Logger } from './logger.js';

export type NodeRole = 'primary' | 'standby' | 'down';

/** How often every node is asked whether it is in recovery. */
const PROBE_INTERVAL_MS = 500;
/** How long one node may take to answer a probe, connecting included. */
const PROBE_TIMEOUT_MS = 1_500;
/**
 * Probes in a row the current primary may miss (no answer at all) before it is
 * dropped while no other node claims to be primary: one slow answer on a busy
 * machine does not cost every open transaction.
 */
const PRIMARY_MISSES = 2;
/** How long getting a connection waits for a primary to be found before failing. */
const PRIMARY_WAIT_MS = 1_000;
/**
 * ... and, before every node has answered once, also as long as a first probe may take
 * (its connection, then its query): a fresh pool on a loaded machine must not fail its
 * first query because one node's first answer was slow.
 */
const FIRST_ANSWERS_WAIT_MS = 2 * PROBE_TIMEOUT_MS + PRIMARY_WAIT_MS;

/** The error a connection gets while no node is the primary: 57P03 (cannot_connect_now) is transient. */
function noPrimaryError(nodes: readonly DatabaseNode[]): Error {
  const err = new Error(`no primary among the database nodes ${nodes.map(nodeName).join(', ')}`);
  (err as Error & { code: string }).code = '57P03';
  return err;
}

/** One node's role, over a pool of one connection kept open for the next probe. */
async function probe(pool: pg.Pool): Promise<NodeRole> {
  try {
    const { rows } = await pool.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
    return rows[0]?.standby ? 'standby' : 'primary';
  } catch {
    return 'down';
  }
}

function probePool(node: DatabaseNode): pg.Pool {
  const pool = new pg.Pool({
    connectionString: node.url,
    max: 1,
    application_name: 'hedge-primary-probe',
    connectionTimeoutMillis: PROBE_TIMEOUT_MS,
    query_timeout: PROBE_TIMEOUT_MS,
    idleTimeoutMillis: 0,
  });
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** Each node's role, asked once (for `hedge status`). */
export async function nodeRoles(url: string): Promise<{ node: string; role: NodeRole }[]> {
  return Promise.all(
    databaseNodes(url).map(async (node) => {
      const pool = probePool(node);
      try {
        return { node: nodeName(node), role: await probe(pool) };
      } finally {
        await pool.end().catch(() => {});
      }
    }),
  );
}

interface TrackedClient {
  node?: DatabaseNode;
  destroy(): void;
}

/**
 * Which node of a multi-host URL is the primary, kept current by asking every
 * node `pg_is_in_recovery()` twice a second. Each node is asked on its own
 * schedule, and every answer is weighed as it comes: a node gone silent (its
 * host cut off) answers only when its probe times out, and must not hold back
 * the news that another node was promoted. A primary that still answers as
 * primary is kept (sticky): a stale primary coming back from a pause also
 * claims to be one until Patroni demotes it, and it must not win the replicas
 * back. Two claimants and neither the current one: no primary, until one of
 * them steps down (nothing is decided before every node answered once). When
 * the primary changes (or is lost), every connection to the old one is cut, so
 * a transaction open on it fails at once (UNAVAILABLE to its client, who
 * retries with the same request id) instead of hanging on a host that stopped
 * answering.
 */
class PrimaryTracker {
  primary: DatabaseNode | undefined;
  /** Each node's last answer; undefined until its first. */
  roles: (NodeRole | undefined)[];
  private readonly probes: pg.Pool[];
  private readonly clients = new Set<TrackedClient>();
  private waiters: (() => void)[] = [];
  private misses = 0;
  private readonly timers: (NodeJS.Timeout | undefined)[];
  private readonly probing: (Promise<void> | undefined)[];
  private readonly again: boolean[];
  private stopped = false;
  users = 0;

  constructor(
    readonly nodes: DatabaseNode[],
    private readonly log?: Logger,
  ) {
    this.probes = nodes.map(probePool);
    this.roles = nodes.map(() => undefined);
    this.timers = nodes.map(() => undefined);
    this.probing = nodes.map(() => undefined);
    this.again = nodes.map(() => false);
    void this.probeNow();
  }

  /** The primary; waits a little for one to be found, else fails with a transient error. */
  async current(): Promise<DatabaseNode> {
    if (this.primary) return this.primary;
    void this.probeNow();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(
        resolve,
        this.roles.includes(undefined) ? FIRST_ANSWERS_WAIT_MS : PRIMARY_WAIT_MS,
      );
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (this.primary) return this.primary;
    throw noPrimaryError(this.nodes);
  }

  /** A connection to `node` failed or found it read-only: ask every node again now. */
  suspect(node: DatabaseNode | undefined): void {
    if (node && node === this.primary) void this.probeNow();
  }

  track(client: TrackedClient): () => void {
    this.clients.add(client);
    return () => this.clients.delete(client);
  }

  async probeNow(): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.probeNode(i)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    await Promise.all(this.probes.map((p) => p.end().catch(() => {})));
  }

  private probeNode(i: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const running = this.probing[i];
    if (running) {
      this.again[i] = true;
      return running;
    }
    clearTimeout(this.timers[i]);
    const done = probe(this.probes[i] as pg.Pool)
      .then((role) => {
        if (this.stopped) return;
        this.roles[i] = role;
        this.weigh(i);
      })
      .finally(() => {
        this.probing[i] = undefined;
        if (this.again[i]) {
          this.again[i] = false;
          void this.probeNode(i);
        } else this.schedule(i);
      });
    this.probing[i] = done;
    return done;
  }

  private schedule(i: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => void this.probeNode(i), PROBE_INTERVAL_MS);
    timer.unref();
    this.timers[i] = timer;
  }

  /** Node `answered` just answered: the primary as every node's last answer has it. */
  private weigh(answered: number): void {
    if (this.roles.includes(undefined)) return;
    const claimants = this.nodes.filter((_, i) => this.roles[i] === 'primary');
    const index = this.primary ? this.nodes.indexOf(this.primary) : -1;
    const current = index >= 0 ? this.roles[index] : undefined;
    if (current === 'primary') {
      if (answered === index) this.misses = 0;
      return;
    }
    if (current === 'down' && claimants.length === 0) {
      // Misses are the primary's own probes in a row that got no answer.
      if (answered !== index || ++this.misses < PRIMARY_MISSES) return;
    }
    this.misses = 0;
    if (claimants.length > 1) {
      this.log?.warn(
        { claimants: claimants.map(nodeName) },
        'more than one database node claims to be primary',
      );
    }
    this.set(claimants.length === 1 ? claimants[0] : undefined);
  }

  private set(next: DatabaseNode | undefined): void {
    const previous = this.primary;
    if (next === previous) return;
    this.primary = next;
    if (next) this.log?.info({ primary: nodeName(next) }, 'database primary found');
    else this.log?.warn({ previous: previous && nodeName(previous) }, 'no database primary');
    for (const client of this.clients) if (client.node !== next) client.destroy();
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

const trackers = new Map<string, PrimaryTracker>();

function acquireTracker(url: string, log?: Logger): PrimaryTracker {
  let tracker = trackers.get(url);
  if (!tracker) {
    tracker = new PrimaryTracker(databaseNodes(url), log);
    trackers.set(url, tracker);
  }
  tracker.users += 1;
  return tracker;
}

function releaseTracker(url: string, tracker: PrimaryTracker): Promise<void> {
  tracker.users -= 1;
  if (tracker.users > 0) return Promise.resolve();
  trackers.delete(url);
  return tracker.stop();
}

/**
 * A pg client that connects to the tracker's current primary (whatever host
 * its configuration names) and checks after connecting that the node is not in
 * recovery, as libpq's target_session_attrs=read-write does.
 */
function primaryClientClass(tracker: PrimaryTracker): typeof pg.Client {
  class PrimaryClient extends pg.Client {
    node: DatabaseNode | undefined;

    async connectToPrimary(): Promise<void> {
      const node = await tracker.current();
      const self = this as unknown as {
        host: string;
        port: number;
        connection: { stream: { destroyed: boolean } };
      };
      // pg-pool's connection timeout destroys the socket of a client still waiting here.
      if (self.connection.stream.destroyed) throw new Error('timeout exceeded when trying to connect');
      this.node = node;
      self.host = node.host;
      self.port = node.port;
      const untrack = tracker.track({ node, destroy: () => this.cut() });
      this.once('end', untrack);
      try {
        await (pg.Client.prototype.connect as (this: pg.Client) => Promise<unknown>).call(this);
        const { rows } = await this.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
        if (rows[0]?.standby) {
          const err = new Error(`database node ${nodeName(node)} is a standby now`);
          (err as Error & { code: string }).code = '25006';
          throw err;
        }
      } catch (err) {
        tracker.suspect(node);
        untrack();
        this.cut();
        throw err;
      }
    }

    /** Ends the connection at once, failing whatever it was running (it may be on a host that is paused). */
    private cut(): void {
      (this as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    }
  }
  // pg-pool calls connect(callback); a promise is returned without one (pg.Client's overloads).
  Object.defineProperty(PrimaryClient.prototype, 'connect', {
    value(this: PrimaryClient, callback?: (err: Error | null, client?: pg.Client) => void) {
      const done = this.connectToPrimary().then(() => this);
      if (!callback) return done;
      done.then(
        () => callback(null, this),
        (err: Error) => callback(err),
      );
    },
  });
  return PrimaryClient as unknown as typeof pg.Client;
}

/** A pool over a multi-host URL whose connections always go to the current primary. */
export function createPrimaryPool(url: string, config: pg.PoolConfig, log?: Logger): pg.Pool {
  const tracker = acquireTracker(url, log);
  const nodes = tracker.nodes;
  class PrimaryPool extends pg.Pool {
    private released = false;
    // biome-ignore lint/suspicious/noExplicitAny: pg.Pool's end is overloaded (promise or callback)
    override end(callback?: () => void): any {
      if (!this.released) {
        this.released = true;
        void releaseTracker(url, tracker);
      }
      return callback ? super.end(callback) : super.end();
    }
  }
  return new PrimaryPool({
    ...config,
    connectionString: (nodes[0] as DatabaseNode).url,
    Client: primaryClientClass(tracker),
  });
}

/** The current primary of a multi-host URL as this process sees it, if it tracks one. */
export function trackedPrimary(url: string): string | undefined {
  const primary = trackers.get(url)?.primary;
  return primary && nodeName(primary);
}
