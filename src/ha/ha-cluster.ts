import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { BACKOFF, Backoff, restartDelay } from '../common/backoff.js';
import { createPool, withDatabase } from '../common/database.js';
import { multiHostUrl } from '../common/database-nodes.js';
import { exited } from '../common/hedge-process.js';
import { readJsonFile } from '../common/json-file.js';
import type { Logger } from '../common/logger.js';
import { migrate } from '../common/migrate.js';
import { commandLine, isAlive, signalQuietly } from '../common/process-state.js';
import {
  ETCD,
  type HaLayout,
  type HaPlacement,
  LOOPBACK,
  MEMBERS,
  PATRONI,
  prepareLayout,
} from './ha-layout.js';

/** The etcd members formed no quorum in time: a fresh cluster may be started again on other ports. */
export class EtcdQuorumError extends Error {}

export interface HaMember {
  name: string;
  /** PostgreSQL's port. */
  port: number;
  /** Patroni's REST API port. */
  restPort: number;
  /** Patroni's role in its /cluster answer: leader, sync_standby or replica; absent if it is not listed. */
  role?: string;
  state?: string;
  patroniPid?: number;
  /** The postmaster, from its postmaster.pid. */
  postgresPid?: number;
}

export interface HaCluster {
  /** libpq multi-host URL of the hedge database on all three nodes. */
  databaseUrl: string;
  layout: HaLayout;
  members(): Promise<HaMember[]>;
  etcdPids(): (number | undefined)[];
  /** Whether each etcd member answers healthy. */
  etcdHealth(): Promise<boolean[]>;
  /** Waits until a leader and a streaming synchronous standby are listed, then returns the members. */
  waitForReplication(timeoutMs?: number): Promise<HaMember[]>;
  stop(): Promise<void>;
}

interface Started {
  name: string;
  /** The member's current process: a new one after each restart. */
  child: ChildProcess;
}

const READY_TIMEOUT_MS = 120_000;

/**
 * Starts a three-member etcd cluster and three Patroni members over Debian's
 * PostgreSQL 15 under <data-dir>/ha (see ha-layout.ts), each a child of this
 * process in its own process group, its output in <data-dir>/logs/<name>.log.
 * Run as root, they run as the `postgres` user (setpriv), and get SIGKILL if this
 * process dies (setpriv --pdeathsig); a postmaster left over from such a death is
 * killed on the next start. A member that dies is started again, with the
 * back-off `hedge up` uses for its own children, so that the cluster is whole
 * again for the next fault (a restarted Patroni takes over the postmaster it
 * left running; a restarted etcd member rejoins from its data directory).
 * Resolves once a primary with a synchronous standby serves the migrated hedge
 * database. `placement` puts member i (its etcd, Patroni and PostgreSQL) on a
 * host of its own: its address, and its network namespace (a simulated host,
 * src/common/netns.ts), which its processes are started in.
 */
export async function startHaCluster(
  dataDir: string,
  log?: Logger,
  placement: HaPlacement = LOOPBACK,
): Promise<HaCluster> {
  const layout = await prepareLayout(dataDir, placement);
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const pidsFile = join(layout.dir, 'pids.json');
  await killLeftovers(layout, pidsFile, log);
  const started: Started[] = [];
  const restarts = new Map<string, { backoff: Backoff; startedAt: number }>();
  const run = (name: string, member: number, command: string, args: string[]) => {
    const output = openSync(join(logDir, `${name}.log`), 'a');
    const asUser =
      layout.uid !== undefined
        ? ['--reuid', String(layout.uid), '--regid', String(layout.gid), '--init-groups']
        : [];
    const setpriv = ['setpriv', ...asUser, '--pdeathsig', 'KILL', '--', command, ...args];
    // `ip netns exec` execs setpriv in the host's namespace (same pid): --pdeathsig still ties it to this process.
    const namespace = layout.placement.hosts[member]?.namespace;
    const line = namespace ? ['ip', 'netns', 'exec', namespace, ...setpriv] : setpriv;
    const child = spawn(line[0] as string, line.slice(1), {
      detached: true,
      stdio: ['ignore', output, output],
      env: { ...process.env, HOME: layout.dir, LC_ALL: 'C.UTF-8' },
      cwd: layout.dir,
    });
    closeSync(output);
    child.on('error', (err) => log?.error({ process: name, err: err.message }, 'could not start'));
    child.on('exit', (code, signal) => {
      if (stopping) return;
      const restart = restarts.get(name) as { backoff: Backoff; startedAt: number };
      const delayMs = restartDelay(restart.backoff, Date.now() - restart.startedAt);
      log?.warn(
        { process: name, code, signal, delayMs },
        `${name} exited (${signal ?? `code ${code}`}); restarting it`,
      );
      setTimeout(() => {
        if (!stopping) run(name, member, command, args);
      }, delayMs).unref();
    });
    const entry = started.find((s) => s.name === name);
    if (entry) entry.child = child;
    else started.push({ name, child });
    const restart = restarts.get(name);
    if (restart) restart.startedAt = Date.now();
    else restarts.set(name, { backoff: new Backoff(BACKOFF.upRestart), startedAt: Date.now() });
    writeFileSync(pidsFile, JSON.stringify(started.map((s) => s.child.pid)));
    log?.info({ process: name, childPid: child.pid }, `${name} started`);
    return child;
  };
  let stopping = false;
  const stop = async () => {
    stopping = true;
    // Patroni first (each stops its PostgreSQL), then etcd, which they need while they stop.
    const patronis = started.filter((s) => s.name.startsWith('patroni'));
    const etcds = started.filter((s) => s.name.startsWith('etcd'));
    await Promise.all(patronis.map((s) => stopGroup(s.child, 30_000)));
    for (let i = 0; i < MEMBERS; i++) await killPostmaster(layout.pgData(i));
    await Promise.all(etcds.map((s) => stopGroup(s.child, 10_000)));
    writeFileSync(pidsFile, '[]');
  };
  try {
    for (let i = 0; i < MEMBERS; i++) run(`etcd${i + 1}`, i, ETCD, layout.etcdArgs(i));
    await waitFor(
      'an etcd quorum',
      () => etcdHealthy(layout),
      READY_TIMEOUT_MS,
      () => stopping,
    ).catch((err: Error) => {
      if (stopping) throw err;
      // Where the logs go with the data directory (a test's), the error is all that is left.
      const words = Array.from(
        { length: MEMBERS },
        (_, i) => `etcd${i + 1}: ${lastLines(logDir, `etcd${i + 1}`)}`,
      );
      throw new EtcdQuorumError(`${err.message}; last lines: ${words.join(' | ')}`);
    });
    for (let i = 0; i < MEMBERS; i++) run(`patroni${i + 1}`, i, PATRONI, [layout.patroniConfig(i)]);
    const patroniPids = () =>
      Object.fromEntries(
        started.filter((s) => s.name.startsWith('patroni')).map((s) => [s.name, s.child.pid]),
      );
    const members = async (): Promise<HaMember[]> => {
      const listed = await clusterMembers(layout);
      const pids = patroniPids();
      return layout.ports.postgres.map((p, i) => {
        const name = `pg${i + 1}`;
        const m = listed.find((l) => l.name === name);
        return {
          name,
          port: p.port,
          restPort: p.rest,
          role: m?.role,
          state: m?.state,
          patroniPid: pids[`patroni${i + 1}`],
          postgresPid: postmasterPid(layout.pgData(i)),
        };
      });
    };
    const waitForReplication = async (timeoutMs = READY_TIMEOUT_MS) => {
      let found: HaMember[] = [];
      await waitFor(
        'a PostgreSQL primary with a streaming synchronous standby',
        async () => {
          found = await members();
          return (
            found.some((m) => m.role === 'leader' && m.state === 'running') &&
            found.some((m) => m.role === 'sync_standby' && (m.state === 'streaming' || m.state === 'running'))
          );
        },
        timeoutMs,
        () => stopping,
      );
      return found;
    };
    await waitForReplication();
    const databaseUrl = multiHostUrl(Array.from({ length: MEMBERS }, (_, i) => ({ url: layout.nodeUrl(i) })));
    await prepareDatabase(databaseUrl);
    log?.info({ members: await members() }, 'the HA database is up');
    return {
      databaseUrl,
      layout,
      members,
      etcdPids: () => started.filter((s) => s.name.startsWith('etcd')).map((s) => s.child.pid),
      etcdHealth: () => etcdHealth(layout),
      waitForReplication,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Creates the hedge database (on the primary) and migrates it. */
async function prepareDatabase(databaseUrl: string): Promise<void> {
  const maintenance = createPool(withDatabase(databaseUrl, 'postgres'), {
    max: 1,
    applicationName: 'hedge-ha',
  });
  try {
    await retry(async () => {
      const found = await maintenance.query("SELECT 1 FROM pg_database WHERE datname = 'hedge'");
      if (found.rowCount === 0) await maintenance.query('CREATE DATABASE hedge');
    });
  } finally {
    await maintenance.end();
  }
  const pool = createPool(databaseUrl, { max: 1, applicationName: 'hedge-ha' });
  try {
    await retry(() => migrate(pool));
  } finally {
    await pool.end();
  }
}

/** The primary may still be finding its feet right after Patroni reports it: a few tries. */
async function retry<T>(work: () => Promise<T>, tries = 20): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await work();
    } catch (err) {
      if (i >= tries) throw err;
      await delay(500);
    }
  }
}

async function waitFor(
  what: string,
  ready: () => Promise<boolean>,
  timeoutMs: number,
  cancelled: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cancelled()) {
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`waited ${timeoutMs / 1000} s for ${what} in vain; see the logs in <data-dir>/logs`);
    await delay(250);
  }
  throw new Error(`stopped while waiting for ${what}`);
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

function etcdHealth(layout: HaLayout): Promise<boolean[]> {
  return Promise.all(
    layout.ports.etcd.map((e, i) =>
      getJson(`http://${layout.host(i)}:${e.client}/health`).then(
        (h) => (h as { health?: string }).health === 'true',
        () => false,
      ),
    ),
  );
}

async function etcdHealthy(layout: HaLayout): Promise<boolean> {
  return (await etcdHealth(layout)).filter(Boolean).length >= 2;
}

/** The members as any Patroni that answers lists them (GET /cluster). */
async function clusterMembers(layout: HaLayout): Promise<{ name: string; role?: string; state?: string }[]> {
  for (const [i, p] of layout.ports.postgres.entries()) {
    try {
      const body = (await getJson(`http://${layout.host(i)}:${p.rest}/cluster`)) as {
        members?: { name: string; role?: string; state?: string }[];
      };
      if (body.members) return body.members;
    } catch {
      // The next one may answer.
    }
  }
  return [];
}

function postmasterPid(pgData: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(pgData, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** SIGTERM to the child's process group, SIGKILL after `graceMs`. */
async function stopGroup(child: ChildProcess, graceMs: number): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const gone = exited(child);
  // A stopped (SIGSTOPped) member would never act on SIGTERM.
  signalQuietly(-pid, 'SIGCONT');
  signalQuietly(-pid, 'SIGTERM');
  const timer = setTimeout(() => signalQuietly(-pid, 'SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
  signalQuietly(-pid, 'SIGKILL');
}

/** A postmaster whose Patroni is gone (Patroni starts it in a session of its own): SIGQUIT, then SIGKILL. */
async function killPostmaster(pgData: string): Promise<void> {
  const pid = postmasterPid(pgData);
  if (pid === undefined) return;
  signalQuietly(pid, 'SIGCONT');
  signalQuietly(pid, 'SIGQUIT');
  const deadline = Date.now() + 10_000;
  while (isAlive(pid) && Date.now() < deadline) await delay(100);
  signalQuietly(pid, 'SIGKILL');
}

/** What an earlier run left behind when it was killed: its process groups and postmasters. */
async function killLeftovers(layout: HaLayout, pidsFile: string, log?: Logger): Promise<void> {
  const pids = readJsonFile(pidsFile);
  if (Array.isArray(pids)) {
    for (const pid of pids) {
      // A pid names the same process only while its command line is still setpriv's (pids are reused).
      if (
        typeof pid === 'number' &&
        isAlive(pid) &&
        commandLine(pid).some((a) => a === PATRONI || a === ETCD)
      ) {
        log?.warn({ pid }, 'killing a cluster member left running by an earlier process');
        signalQuietly(-pid, 'SIGKILL');
      }
    }
  }
  for (let i = 0; i < MEMBERS; i++) await killPostmaster(layout.pgData(i));
}

/** The last lines of a member's log, on one line (for an error that must stand alone). */
function lastLines(logDir: string, name: string, count = 3): string {
  try {
    return readFileSync(join(logDir, `${name}.log`), 'utf8')
      .trimEnd()
      .split('\n')
      .slice(-count)
      .join(' / ');
  } catch {
    return '(no log)';
  }
}
