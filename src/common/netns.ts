import { execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAlive } from './process-state.js';

/**
 * Hosts simulated by Linux network namespaces (root only): one namespace per
 * host, `hedge-<run>-h<n>`, each with a veth pair whose other end is a port of
 * the run's bridge `hb<run>` in the root namespace. Addresses come from
 * 198.18.0.0/15 (RFC 2544's benchmarking range) and nothing else: the run's
 * /24 is 198.18.<run>.0, the bridge is .1 (the root namespace, where the
 * database and the test itself sit), host n is .(10+n). Each run claims its
 * number with a lock file naming its pid, so parallel runs never share a
 * subnet, and a run whose owner died is swept by the next one that starts.
 *
 * A partition takes the host's bridge port down: the host keeps its address and
 * routes, so packets in both directions vanish without an answer (peers see
 * silence and time out, never a refused connection). A crash kills every
 * process in the namespace and takes the link down too: the namespace's kernel
 * would otherwise answer for the dead host with refused connections, where a
 * real crashed host is silent until it comes back (`heal`). tc netem is not
 * available on these kernels: a delay is modelled by a proxy (delay-proxy.ts).
 */
export interface SimulatedHost {
  name: string;
  /** The namespace, for `ip netns exec`. */
  namespace: string;
  address: string;
}

export interface SimulatedNetwork {
  run: number;
  /** The root namespace's address on the bridge (where the database is reached). */
  gateway: string;
  hosts: SimulatedHost[];
  host(name: string): SimulatedHost;
  /** Starts `command` inside the host's namespace. */
  spawnIn(
    host: SimulatedHost,
    command: string,
    args: string[],
    options?: SpawnOptions,
  ): ReturnType<typeof spawn>;
  /** Cuts the host off: its link down, so peers see silence. */
  partition(host: SimulatedHost): void;
  /** Brings a cut off or crashed host's link up again. */
  heal(host: SimulatedHost): void;
  /** A power cut: SIGKILLs every process in the host's namespace at once and takes its link down (silence). */
  crash(host: SimulatedHost): number[];
  /** The processes running in the host's namespace. */
  pids(host: SimulatedHost): number[];
  /** Removes every namespace, link and bridge of the run (safe to call twice). */
  teardown(): void;
}

const LOCK_DIR = '/run/hedge-hosts';
/** Runs 0-255: the third octet of 198.18.<run>.0/24. */
const RUNS = 256;

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function ipQuietly(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    // Already gone.
  }
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0)
    throw new Error('simulated hosts need root (network namespaces, veth pairs and a bridge)');
}

const namespacePrefix = (run: number) => `hedge-${run}-`;
const bridgeName = (run: number) => `hb${run}`;
const vethName = (run: number, n: number) => `hv${run}h${n}`;

/** Every namespace, veth and bridge of `run`, and its lock file. */
function removeRun(run: number): void {
  // A namespace outlives its deletion while processes run in it: a dead run's (its PostgreSQL, say) go first.
  for (const ns of namespaces()) {
    if (!ns.startsWith(namespacePrefix(run))) continue;
    killNamespace(ns);
    ipQuietly('netns', 'del', ns);
  }
  // Deleting a namespace deletes its veth end, and with it the peer; a veth never moved in is removed here.
  for (const link of links()) if (link.startsWith(`hv${run}h`)) ipQuietly('link', 'del', link);
  ipQuietly('link', 'del', bridgeName(run));
  rmSync(`${LOCK_DIR}/${run}`, { force: true });
}

function namespaces(): string[] {
  return ip('netns', 'list')
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith('hedge-'));
}

function links(): string[] {
  return ip('-o', 'link', 'show')
    .split('\n')
    .map((l) => l.split(': ')[1]?.split('@')[0] ?? '')
    .filter((n) => n.length > 0);
}

/** Removes what runs whose owner is gone left behind: their lock's pid is dead. */
export function sweepStaleRuns(): void {
  mkdirSync(LOCK_DIR, { recursive: true });
  for (const file of readdirSync(LOCK_DIR)) {
    const run = Number(file);
    if (!Number.isInteger(run)) continue;
    const pid = Number(readFileSync(`${LOCK_DIR}/${file}`, 'utf8'));
    if (!Number.isInteger(pid) || !isAlive(pid)) removeRun(run);
  }
  // Namespaces with no lock at all (a lock removed by hand, a crash mid-claim).
  const locked = new Set(readdirSync(LOCK_DIR));
  for (const ns of namespaces()) {
    const run = ns.split('-')[1] ?? '';
    if (!locked.has(run)) removeRun(Number(run));
  }
}

function claimRun(): number {
  const start = process.pid % RUNS;
  for (let i = 0; i < RUNS; i++) {
    const run = (start + i) % RUNS;
    try {
      const fd = openSync(`${LOCK_DIR}/${run}`, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return run;
    } catch {
      // Taken by a live run.
    }
  }
  throw new Error(`all ${RUNS} simulated networks are in use (see ${LOCK_DIR})`);
}

function partitionLink(veth: string): void {
  ip('link', 'set', veth, 'down');
}

function healLink(run: number, veth: string): void {
  ip('link', 'set', veth, 'up');
  // Addresses that went unanswered during the partition are marked FAILED in the neighbour
  // tables, and a connection to them fails at once (EHOSTUNREACH) until re-probed: forget them.
  ipQuietly('neigh', 'flush', 'dev', bridgeName(run));
  for (const ns of namespaces())
    if (ns.startsWith(namespacePrefix(run))) ipQuietly('-n', ns, 'neigh', 'flush', 'dev', 'eth0');
}

function pidsIn(namespace: string): number[] {
  try {
    return ip('netns', 'pids', namespace)
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map(Number);
  } catch {
    return [];
  }
}

function killNamespace(namespace: string): number[] {
  const pids = pidsIn(namespace);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  return pids;
}

/** Silent, as a crashed host is: the link goes down before the processes die, so no RST or FIN leaves. */
function crashHost(namespace: string, veth: string): number[] {
  partitionLink(veth);
  return killNamespace(namespace);
}

/** A simulated host of a running network, found by its address, and its faults. */
export interface AttachedHost extends SimulatedHost {
  partition(): void;
  heal(): void;
  crash(): number[];
  pids(): number[];
}

/**
 * The simulated host whose address is `address` (198.18.<run>.<10+n>), in a
 * network another process made (a bench's, a test's): what `hedge inject`
 * partitions or crashes. Undefined when no such namespace exists: the address
 * is a real host's, which no command here can cut off.
 */
export function simulatedHostAt(address: string): AttachedHost | undefined {
  const match = /^198\.18\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (!match) return undefined;
  const run = Number(match[1]);
  const n = Number(match[2]) - 10;
  const namespace = `${namespacePrefix(run)}h${n}`;
  if (run >= RUNS || n < 1 || process.getuid?.() !== 0 || !namespaces().includes(namespace)) return undefined;
  const veth = vethName(run, n);
  return {
    name: namespace,
    namespace,
    address,
    partition: () => partitionLink(veth),
    heal: () => healLink(run, veth),
    crash: () => crashHost(namespace, veth),
    pids: () => pidsIn(namespace),
  };
}

/** Creates `names.length` hosts on one bridge. Removes what it made if any step fails. */
export function createNetwork(names: string[]): SimulatedNetwork {
  requireRoot();
  sweepStaleRuns();
  const run = claimRun();
  const subnet = `198.18.${run}`;
  const gateway = `${subnet}.1`;
  const hosts: SimulatedHost[] = names.map((name, i) => ({
    name,
    namespace: `${namespacePrefix(run)}h${i + 1}`,
    address: `${subnet}.${11 + i}`,
  }));
  const veth = (host: SimulatedHost) => vethName(run, hosts.indexOf(host) + 1);
  let tornDown = false;
  const teardown = () => {
    if (tornDown) return;
    tornDown = true;
    for (const host of hosts) killNamespace(host.namespace);
    removeRun(run);
  };
  const network: SimulatedNetwork = {
    run,
    gateway,
    hosts,
    host: (name) => {
      const found = hosts.find((h) => h.name === name);
      if (!found) throw new Error(`no simulated host ${name}`);
      return found;
    },
    spawnIn: (host, command, args, options = {}) =>
      spawn('ip', ['netns', 'exec', host.namespace, command, ...args], options),
    partition: (host) => partitionLink(veth(host)),
    heal: (host) => healLink(run, veth(host)),
    crash: (host) => crashHost(host.namespace, veth(host)),
    pids: (host) => pidsIn(host.namespace),
    teardown,
  };
  try {
    ip('link', 'add', bridgeName(run), 'type', 'bridge');
    ip('addr', 'add', `${gateway}/24`, 'dev', bridgeName(run));
    ip('link', 'set', bridgeName(run), 'up');
    for (const host of hosts) {
      ip('netns', 'add', host.namespace);
      ip('link', 'add', veth(host), 'type', 'veth', 'peer', 'name', `${veth(host)}p`);
      ip('link', 'set', `${veth(host)}p`, 'netns', host.namespace);
      ip('-n', host.namespace, 'link', 'set', `${veth(host)}p`, 'name', 'eth0');
      ip('-n', host.namespace, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0');
      ip('-n', host.namespace, 'link', 'set', 'eth0', 'up');
      ip('-n', host.namespace, 'link', 'set', 'lo', 'up');
      ip('link', 'set', veth(host), 'master', bridgeName(run));
      ip('link', 'set', veth(host), 'up');
    }
  } catch (err) {
    teardown();
    throw err;
  }
  return network;
}
