import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../common/logger.js';
import type { ProcessState } from '../common/process-state.js';
import { hedgeProto } from '../common/proto.js';
import { deadlineAfter, invoke, PEER_CHANNEL_OPTIONS } from '../common/rpc.js';
import type { ReplicaSettings } from '../common/settings.js';
import { type Watch, watch } from '../common/watch-stream.js';
import type { HostAgentClient } from '../gen/hedge/v1/HostAgent.js';
import type { HostEvent__Output } from '../gen/hedge/v1/HostEvent.js';
import type { HostReplica, HostReplica__Output } from '../gen/hedge/v1/HostReplica.js';
import type { HostReplicas__Output } from '../gen/hedge/v1/HostReplicas.js';
import type { SignalReplicaResponse__Output } from '../gen/hedge/v1/SignalReplicaResponse.js';
import { agentChannelCredentials } from './agent-credentials.js';
import { hearsMajority, inReach, silenceCounts } from './host-quorum.js';
import type { Ended, HostSilence, HostView, Launch, Launcher } from './launcher.js';
import { chooseHost, movesHome, type Placed } from './placement.js';
import type { RegistryEntry } from './registry.js';

/** `name=host:port` pairs, as `--agents` takes them. */
export function parseAgents(text: string): { name: string; address: string }[] {
  const agents = text
    .split(',')
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '')
    .map((pair) => {
      const [name, address] = pair.split('=');
      if (!name || !address || !/^[^:]+:\d+$|^\[.+\]:\d+$/.test(address))
        throw new Error(`--agents takes name=host:port pairs separated by commas, not "${pair}"`);
      return { name, address };
    });
  if (new Set(agents.map((a) => a.name)).size !== agents.length)
    throw new Error('--agents names a host twice');
  if (agents.length === 0) throw new Error('--agents names no host');
  return agents;
}

/** Two ticks missed: its replicas are probed directly (hostSilence), before the host counts as out of reach. */
const SUSPECT_SILENCE_MS = 500;
const START_DEADLINE_MS = 30_000;
const SIGNAL_DEADLINE_MS = 2_000;
/** How long a restarted manager waits for each agent's list before judging what it can adopt. */
const FIRST_LIST_WAIT_MS = 3_000;
/**
 * The channel to an agent: keepalive pings every second, so a connection into a
 * partition is dropped and redialled within seconds of the host coming back.
 */
const AGENT_CHANNEL_OPTIONS = {
  ...PEER_CHANNEL_OPTIONS,
  'grpc.keepalive_time_ms': 1_000,
  'grpc.keepalive_timeout_ms': 1_000,
};

interface Host {
  name: string;
  address: string;
  client: HostAgentClient;
  watch?: Watch;
  lastHeardMs: number;
  /** The first list arrived: what runs there is known. */
  listed: boolean;
  /** Its live replicas by pid, as its agent last told. */
  replicas: Map<number, HostReplica__Output>;
  /** Slot ids being started there (not yet in the list). */
  starting: Set<string>;
  exitListeners: Map<number, (code: number | null, signal: string | null) => void>;
}

const key = (id: string, pid: number) => `${id}:${pid}`;

/**
 * Replicas on several hosts, through each host's agent (`hedge agent`). Each
 * agent's WatchReplicas stream tells every replica's state and exit at once, and
 * ticks: a host not heard from for HOST_SILENCE_MS is unreachable (host-quorum.ts).
 * Its replicas' state is then unknown (reported running): whether they are faulty
 * is the heartbeats' and client reports' to find, only while the manager hears a
 * majority of the hosts (silenceCounts; probing them directly: hostSilence), and they cannot be
 * killed, only replaced. Once its host is back, every replica there that is not
 * the current process of its slot is killed: a stale replica never serves
 * beside its replacement.
 */
export class AgentLauncher implements Launcher {
  private readonly hostsByName = new Map<string, Host>();
  /** Which host each process (slot id and pid) runs on. */
  private readonly where = new Map<string, string>();
  private current?: () => { id: string; pid?: number }[];

  constructor(
    agents: { name: string; address: string }[],
    private readonly log: Logger,
    /** Whether this manager may still kill (SupervisorOptions.mayAct): a stale replica is swept only then. */
    private readonly mayAct: () => boolean = () => true,
  ) {
    const AgentClient = hedgeProto().HostAgent;
    for (const { name, address } of agents) {
      const host: Host = {
        name,
        address,
        client: new AgentClient(address, agentChannelCredentials(), AGENT_CHANNEL_OPTIONS),
        lastHeardMs: 0,
        listed: false,
        replicas: new Map(),
        starting: new Set(),
        exitListeners: new Map(),
      };
      this.hostsByName.set(name, host);
      host.watch = watch<HostEvent__Output>({
        open: () => host.client.WatchReplicas({}),
        onData: (event) => this.heard(host, event),
        backoff: { initialMs: 100, maxMs: 1_000 },
        log,
        name: `agent ${name}`,
      });
    }
  }

  async connect(): Promise<void> {
    const until = Date.now() + FIRST_LIST_WAIT_MS;
    while ([...this.hostsByName.values()].some((h) => !h.listed) && Date.now() < until) await delay(20);
  }

  start(id: string, settings: ReplicaSettings): Launch {
    const hosts = this.placementHosts();
    const host = this.hostsByName.get(chooseHost(id, hosts, this.placed()) ?? '');
    if (!host) throw new Error(`no host's agent is reachable (${[...this.hostsByName.keys()].join(', ')})`);
    const listeners: ((code: number | null, signal: string | null) => void)[] = [];
    host.starting.add(id);
    this.log.info({ replica: id, host: host.name }, 'starting a replica through its host agent');
    const ready = invoke<HostReplica__Output>((cb) =>
      host.client.StartReplica(
        {
          id,
          dedup: settings.dedup ?? '',
          pool: settings.pool ?? 0,
          order_ttl_ms: settings.orderTtlMs ?? 0,
          feed: settings.feed ?? '',
          allow_fault_injection: settings.allowFaultInjection ?? false,
        },
        { deadline: deadlineAfter(START_DEADLINE_MS) },
        cb,
      ),
    )
      .then((replica) => {
        this.where.set(key(id, replica.pid), host.name);
        if (!host.replicas.has(replica.pid)) host.replicas.set(replica.pid, replica);
        host.exitListeners.set(replica.pid, (code, signal) => {
          for (const listener of listeners) listener(code, signal);
        });
        return { pid: replica.pid, address: replica.address };
      })
      .finally(() => host.starting.delete(id));
    return { ready, onExit: (listener) => listeners.push(listener), detach: () => {} };
  }

  state(id: string, pid: number): ProcessState {
    const host = this.hostOfProcess(id, pid);
    if (!host) return 'gone';
    if (!this.reachable(host)) return 'running';
    const replica = host.replicas.get(pid);
    if (!replica || replica.id !== id) return 'gone';
    return replica.state === 'HOST_PROCESS_STATE_STOPPED' ? 'stopped' : 'running';
  }

  async signal(id: string, pid: number, signal: NodeJS.Signals): Promise<'sent' | 'gone' | 'unreachable'> {
    const host = this.hostOfProcess(id, pid);
    if (!host) return 'gone';
    if (!this.reachable(host)) return 'unreachable';
    try {
      const { delivered } = await invoke<SignalReplicaResponse__Output>((cb) =>
        host.client.SignalReplica({ id, pid, signal }, { deadline: deadlineAfter(SIGNAL_DEADLINE_MS) }, cb),
      );
      return delivered ? 'sent' : 'gone';
    } catch (err) {
      this.log.warn(
        { err, replica: id, replicaPid: pid, host: host.name },
        'could not signal through the agent',
      );
      return 'unreachable';
    }
  }

  async waitForExit(id: string, pid: number, timeoutMs: number): Promise<Ended> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const host = this.hostOfProcess(id, pid);
      if (!host || this.state(id, pid) === 'gone') return 'gone';
      if (!this.reachable(host)) return 'unreachable';
      if (Date.now() > deadline) return 'timeout';
      await delay(20);
    }
  }

  residentBytes(id: string, pid: number): number | undefined {
    const rss = this.hostOfProcess(id, pid)?.replicas.get(pid)?.rss_bytes;
    return rss === undefined || rss === '0' ? undefined : Number(rss);
  }

  async adoptable(entry: RegistryEntry): Promise<boolean> {
    const host = this.hostsByName.get(entry.host ?? '');
    if (!host) return false;
    const until = Date.now() + FIRST_LIST_WAIT_MS;
    while (!host.listed && Date.now() < until) await delay(20);
    const replica = host.replicas.get(entry.pid);
    if (!replica || replica.id !== entry.id) return false;
    this.where.set(key(entry.id, entry.pid), host.name);
    return true;
  }

  hostOf(id: string, pid: number): string | undefined {
    return this.where.get(key(id, pid));
  }

  hosts(): HostView[] {
    return [...this.hostsByName.values()].map((host) => ({
      name: host.name,
      address: host.address,
      reachable: this.reachable(host),
      replicas: this.placed()
        .filter((p) => p.host === host.name)
        .map((p) => p.slot),
    }));
  }

  movesHome(isSpare: (slot: string) => boolean): Placed[] {
    return movesHome(this.placementHosts(), this.placed(), isSpare);
  }

  silenceCounts(id: string, pid: number | undefined): boolean {
    const host = pid === undefined ? undefined : this.hostOfProcess(id, pid);
    return silenceCounts(host?.name, [...this.hostsByName.values()], Date.now());
  }

  hostSilence(id: string, pid: number): HostSilence | undefined {
    const host = this.hostOfProcess(id, pid);
    const nowMs = Date.now();
    if (!host || nowMs - host.lastHeardMs < SUSPECT_SILENCE_MS) return undefined;
    // A manager that hears no majority may be the one cut off (or stalled): no evidence against anyone.
    if (!hearsMajority([...this.hostsByName.values()], nowMs, host.name)) return undefined;
    return { silentMs: nowMs - host.lastHeardMs, sinceMs: host.lastHeardMs };
  }

  settled(current: () => { id: string; pid?: number }[]): void {
    this.current = current;
    for (const host of this.hostsByName.values()) if (this.reachable(host)) this.sweep(host);
  }

  close(): void {
    for (const host of this.hostsByName.values()) {
      host.watch?.close();
      host.client.close();
    }
  }

  private reachable(host: Host): boolean {
    return inReach(host, Date.now());
  }

  private placementHosts() {
    return [...this.hostsByName.values()].map((h) => ({ name: h.name, reachable: this.reachable(h) }));
  }

  /** Every live process of a slot and its host, and the starts under way. */
  private placed(): Placed[] {
    const placed: Placed[] = [];
    for (const [k, hostName] of this.where)
      placed.push({ slot: k.slice(0, k.lastIndexOf(':')), host: hostName });
    for (const host of this.hostsByName.values())
      for (const slot of host.starting) placed.push({ slot, host: host.name });
    return placed;
  }

  private hostOfProcess(id: string, pid: number): Host | undefined {
    return this.hostsByName.get(this.where.get(key(id, pid)) ?? '');
  }

  private heard(host: Host, event: HostEvent__Output): void {
    const wasReachable = this.reachable(host);
    host.lastHeardMs = Date.now();
    if (event.snapshot) {
      this.listed(host, event.snapshot);
      return;
    }
    if (event.changed) this.changed(host, event.changed);
    // Back after a silence (a partition healed): what ran there may have been replaced meanwhile.
    // Whatever came first, a tick or a change (a replica's memory is told every second).
    if (!wasReachable) {
      this.log.info({ host: host.name }, 'host agent reachable again');
      this.sweep(host);
    }
  }

  private listed(host: Host, list: HostReplicas__Output): void {
    const live = new Map(list.replicas.map((r) => [r.pid, r]));
    for (const [pid, replica] of host.replicas) {
      if (!live.has(pid)) this.changed(host, { ...replica, state: 'HOST_PROCESS_STATE_GONE' });
    }
    for (const replica of live.values()) host.replicas.set(replica.pid, replica);
    host.listed = true;
    this.sweep(host);
  }

  private changed(host: Host, replica: HostReplica | HostReplica__Output): void {
    const pid = replica.pid ?? 0;
    if (replica.state !== 'HOST_PROCESS_STATE_GONE') {
      host.replicas.set(pid, replica as HostReplica__Output);
      return;
    }
    host.replicas.delete(pid);
    this.where.delete(key(replica.id ?? '', pid));
    const listener = host.exitListeners.get(pid);
    host.exitListeners.delete(pid);
    listener?.(replica.exit_signal ? null : (replica.exit_code ?? null), replica.exit_signal || null);
  }

  /**
   * Once the supervisor has adopted what it could: every replica on `host` that is
   * not its slot's current process (a stale one, replaced while its host was out of
   * reach, or left by an earlier manager) is killed, so none serves twice.
   */
  private sweep(host: Host): void {
    const current = this.current?.();
    if (!current || !this.mayAct()) return;
    const owned = new Set(current.flatMap((c) => (c.pid === undefined ? [] : [key(c.id, c.pid)])));
    for (const replica of host.replicas.values()) {
      const k = key(replica.id, replica.pid);
      if (owned.has(k) && this.where.get(k) === host.name) continue;
      if (host.starting.has(replica.id) && !this.where.has(k)) continue;
      this.log.warn(
        { replica: replica.id, replicaPid: replica.pid, host: host.name },
        'a stale replica on a host back in reach: killing it',
      );
      this.where.set(k, host.name);
      void this.signal(replica.id, replica.pid, 'SIGKILL');
    }
  }
}
