import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { readJsonFile } from '../common/json-file.js';
import { readOrCreateSecret } from '../common/secret-file.js';

/** Debian's PostgreSQL 15 (postgresql-15): it has pg_basebackup and pg_rewind, which Patroni needs. */
export const PG_BIN_DIR = '/usr/lib/postgresql/15/bin';
export const PATRONI = '/usr/bin/patroni';
export const ETCD = '/usr/bin/etcd';
export const HA_SETUP =
  'run `sudo npm run setup:ha` (scripts/setup-ha.sh: Debian packages patroni, etcd-server, postgresql-15)';

/** Three of each: a primary and two standbys (one synchronous), and an etcd quorum that survives one loss. */
export const MEMBERS = 3;
const HOST = '127.0.0.1';

/**
 * Where member i runs: the address its etcd, Patroni and PostgreSQL listen on
 * and are reached at, and the network namespace of its simulated host (none:
 * this process's, as `hedge up --ha` runs them).
 */
export interface HaMemberHost {
  address: string;
  namespace?: string;
}

export interface HaPlacement {
  hosts: HaMemberHost[];
  /** The network peers and clients connect from (pg_hba), in CIDR. */
  network: string;
}

/** Every member on loopback: `hedge up --ha` on one machine. */
export const LOOPBACK: HaPlacement = {
  hosts: Array.from({ length: MEMBERS }, () => ({ address: HOST })),
  network: `${HOST}/32`,
};
/** The Patroni cluster's name in etcd. */
const SCOPE = 'hedge';

/**
 * Patroni's timing, in seconds (bootstrap.dcs, applied when the cluster is first made).
 * Patroni's rule is loop_wait + 2 * retry_timeout <= ttl. A dead postmaster is seen on
 * the primary's next loop (<= loop_wait) and, with primary_start_timeout 0, failed over
 * at once; a primary whose host stops answering keeps the leader key until its ttl runs
 * out, so ttl bounds the pause after a partition. Shorter values fail over sooner but
 * make a primary that is merely slow (a loaded machine, a long fsync) lose the key more
 * often: each such fail-over costs a pause, never a trade (strict synchronous mode).
 * The leader key is what keeps two primaries from taking writes: it is not weakened.
 */
export const PATRONI_TIMING = { ttl: 10, loop_wait: 2, retry_timeout: 4 } as const;

export interface HaPorts {
  etcd: { client: number; peer: number }[];
  postgres: { port: number; rest: number }[];
}

export interface HaLayout {
  dir: string;
  ports: HaPorts;
  placement: HaPlacement;
  /** Member i's address. */
  host(i: number): string;
  password: string;
  /** The uid and gid the members run as: postgres refuses to run as root. */
  uid?: number;
  gid?: number;
  etcdDir(i: number): string;
  nodeDir(i: number): string;
  pgData(i: number): string;
  patroniConfig(i: number): string;
  etcdArgs(i: number): string[];
  /** The hedge database on node i. */
  nodeUrl(i: number): string;
  /** etcd's client URLs, comma-separated (the managers' lease). */
  etcdUrls: string;
}

/** A loopback port free right now (kept by whoever listens on it first). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** The unprivileged user the members run as when hedge runs as root. */
function memberUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(`hedge runs as root, and PostgreSQL must not: there is no "postgres" user; ${HA_SETUP}`);
  }
}

/**
 * The cluster's files under <data-dir>/ha: its ports (chosen once, free, and kept:
 * etcd's members and Patroni's know each other by address), the superuser's
 * password, one etcd data directory and one Patroni config and PostgreSQL data
 * directory per member. Owned by the user the members run as.
 */
export async function prepareLayout(dataDir: string, placement = LOOPBACK): Promise<HaLayout> {
  for (const bin of [PATRONI, ETCD, join(PG_BIN_DIR, 'postgres'), join(PG_BIN_DIR, 'pg_rewind')]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: ${HA_SETUP}`);
  }
  const dir = join(dataDir, 'ha');
  const { uid, gid } = memberUser();
  const own = (path: string) => {
    if (uid !== undefined && gid !== undefined) chownSync(path, uid, gid);
  };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  own(dir);
  const portsFile = join(dir, 'ports.json');
  let ports = readJsonFile(portsFile) as HaPorts | undefined;
  if (!ports) {
    const take = async () => freePort();
    ports = { etcd: [], postgres: [] };
    for (let i = 0; i < MEMBERS; i++) {
      ports.etcd.push({ client: await take(), peer: await take() });
      ports.postgres.push({ port: await take(), rest: await take() });
    }
    writeFileSync(portsFile, JSON.stringify(ports, null, 2));
  }
  const secret = (name: string) => {
    const path = join(dir, name);
    const value = readOrCreateSecret(path, 18);
    own(path);
    return value;
  };
  const password = secret('superuser-password');
  const replicationPassword = secret('replication-password');
  const rewindPassword = secret('rewind-password');
  const p = ports;
  const host = (i: number) => (placement.hosts[i] as HaMemberHost).address;
  const etcdName = (i: number) => `etcd${i + 1}`;
  const initialCluster = p.etcd.map((e, i) => `${etcdName(i)}=http://${host(i)}:${e.peer}`).join(',');
  const layout: HaLayout = {
    dir,
    ports: p,
    placement,
    host,
    password,
    uid,
    gid,
    etcdDir: (i) => join(dir, etcdName(i)),
    nodeDir: (i) => join(dir, `pg${i + 1}`),
    pgData: (i) => join(dir, `pg${i + 1}`, 'data'),
    patroniConfig: (i) => join(dir, `pg${i + 1}`, 'patroni.yml'),
    etcdArgs: (i) => {
      const e = p.etcd[i] as { client: number; peer: number };
      return [
        '--name',
        etcdName(i),
        '--data-dir',
        join(dir, etcdName(i)),
        '--listen-client-urls',
        `http://${host(i)}:${e.client}`,
        '--advertise-client-urls',
        `http://${host(i)}:${e.client}`,
        '--listen-peer-urls',
        `http://${host(i)}:${e.peer}`,
        '--initial-advertise-peer-urls',
        `http://${host(i)}:${e.peer}`,
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        `hedge-${p.etcd[0]?.peer}`,
        // Patroni talks to etcd over its v2 API (see patroniConfig).
        '--enable-v2=true',
        // A member cut off from the others campaigns in vain, raising its term each time; without a pre-vote
        // round its return deposed the leader, and the election that followed cost the active manager its
        // lease (seen when a host was partitioned and healed, test-ha/primary-partition.test.ts).
        '--pre-vote=true',
        '--logger',
        'zap',
        '--log-level',
        'warn',
      ];
    },
    etcdUrls: p.etcd.map((e, i) => `http://${host(i)}:${e.client}`).join(','),
    nodeUrl: (i) =>
      `postgres://postgres:${encodeURIComponent(password)}@${host(i)}:${p.postgres[i]?.port}/hedge`,
  };
  for (let i = 0; i < MEMBERS; i++) {
    for (const d of [layout.etcdDir(i), layout.nodeDir(i)]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
      own(d);
    }
    const config = patroniConfig(layout, i, { replicationPassword, rewindPassword });
    // JSON is YAML: Patroni reads it as its YAML config.
    writeFileSync(layout.patroniConfig(i), JSON.stringify(config, null, 2), { mode: 0o600 });
    own(layout.patroniConfig(i));
  }
  return layout;
}

/** Patroni 3.0's configuration of member i (keys as its validator and docs name them). */
function patroniConfig(
  layout: HaLayout,
  i: number,
  secrets: { replicationPassword: string; rewindPassword: string },
): Record<string, unknown> {
  const { ports } = layout;
  const node = ports.postgres[i] as { port: number; rest: number };
  const host = layout.host(i);
  const { network } = layout.placement;
  const hba = [
    'local all all scram-sha-256',
    `host all all ${network} scram-sha-256`,
    `host replication replicator ${network} scram-sha-256`,
  ];
  return {
    scope: SCOPE,
    name: `pg${i + 1}`,
    restapi: { listen: `${host}:${node.rest}`, connect_address: `${host}:${node.rest}` },
    // etcd's v2 API, not etcd3: Debian 12's Patroni 3.0.2 renews an expired etcd3 lease by writing the leader
    // key unconditionally, so a primary that was paused past its ttl took the key back from the standby already
    // promoted in its place (seen in test-ha; fixed upstream in Patroni 3.0.3, patroni/patroni#2689). Its v2
    // backend renews the key by compare-and-swap on its own name, and a stale primary that lost it demotes.
    etcd: { hosts: ports.etcd.map((e, j) => `${layout.host(j)}:${e.client}`) },
    bootstrap: {
      dcs: {
        ...PATRONI_TIMING,
        maximum_lag_on_failover: 1_048_576,
        // A commit is acknowledged once a standby has flushed it, and never with no standby.
        synchronous_mode: true,
        synchronous_mode_strict: true,
        // A crashed primary is failed over to the synchronous standby at once, not restarted in place for 5 min.
        primary_start_timeout: 0,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: {
            max_connections: 400,
            shared_buffers: '128MB',
            wal_log_hints: 'on',
            synchronous_commit: 'on',
          },
        },
      },
      initdb: [{ encoding: 'UTF8' }, { locale: 'C' }, 'data-checksums'],
      pg_hba: hba,
    },
    postgresql: {
      listen: `${host}:${node.port}`,
      connect_address: `${host}:${node.port}`,
      data_dir: layout.pgData(i),
      bin_dir: PG_BIN_DIR,
      pgpass: join(layout.nodeDir(i), 'pgpass'),
      use_pg_rewind: true,
      pg_hba: hba,
      authentication: {
        superuser: { username: 'postgres', password: layout.password },
        replication: { username: 'replicator', password: secrets.replicationPassword },
        rewind: { username: 'rewinder', password: secrets.rewindPassword },
      },
      parameters: { unix_socket_directories: layout.nodeDir(i) },
    },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  };
}
