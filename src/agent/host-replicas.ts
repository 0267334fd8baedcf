import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { spawnHedge } from '../common/hedge-process.js';
import { readJsonFile, writeJsonFile } from '../common/json-file.js';
import type { Logger } from '../common/logger.js';
import { processStartTime, processState, signalQuietly } from '../common/process-state.js';
import { isHedgeReplica as isReplica, residentBytes } from '../common/replica-process.js';
import { type ReplicaSettings, replicaArgs } from '../common/settings.js';
import type { HostReplica } from '../gen/hedge/v1/HostReplica.js';

export interface HostReplicasOptions {
  /** Where replicas listen, as other hosts reach them. */
  replicaHost: string;
  dataDir: string;
  databaseUrl: string;
  /** The agent's own state: its list of replicas (for a restarted agent) and their logs. */
  stateDir: string;
}

interface Entry {
  id: string;
  pid: number;
  address: string;
  startedAtMs: number;
  /** /proc's start time: with the pid it names one process, so a recycled pid is never adopted. */
  startTime?: string;
  state: 'running' | 'stopped' | 'gone';
  /** Started by this agent: its exit event, which carries the code or signal, tells it is gone. */
  child?: boolean;
  exitCode?: number;
  exitSignal?: string;
  /** Resident memory as last told (read every USAGE_MS). */
  rssBytes?: number;
}

/** How often every replica's /proc entry is read: a stop or an exit is reported within it. */
const WATCH_MS = 100;
/**
 * How often resident memory is read: a replica whose RSS changed is told again, so the
 * manager's --rejuvenate-rss sees it grow (its check runs every second too).
 */
const USAGE_MS = 1_000;
/**
 * A change in resident memory worth a `changed` event: 1 MiB (the manager's
 * --rejuvenate-rss is in MiB), or the first measure. Otherwise every replica
 * would be told nearly every second: its RSS moves by pages all the time.
 */
const USAGE_STEP_BYTES = 1024 * 1024;

export function usageChanged(told: number | undefined, now: number): boolean {
  if (told === undefined) return true;
  return Math.abs(now - told) >= USAGE_STEP_BYTES;
}

/**
 * The replica processes of one host: started detached (they outlive the agent and
 * the manager), each watched through /proc, every change told to the listeners at
 * once. The list is kept on disk, so a restarted agent goes on watching the
 * replicas that outlived it.
 */
export class HostReplicas {
  private readonly entries = new Map<number, Entry>();
  private readonly listeners = new Set<(replica: HostReplica) => void>();
  private readonly timer = setInterval(() => this.watch(), WATCH_MS);
  private readonly usageTimer = setInterval(() => this.tellUsage(), USAGE_MS);

  constructor(
    private readonly options: HostReplicasOptions,
    private readonly log: Logger,
  ) {
    mkdirSync(join(options.stateDir, 'logs'), { recursive: true });
    for (const entry of this.readList()) {
      if (processStartTime(entry.pid) === entry.startTime && isReplica(entry.pid)) {
        this.entries.set(entry.pid, { ...entry, child: false, state: processState(entry.pid) });
        log.info({ replica: entry.id, replicaPid: entry.pid }, 'watching a replica that outlived the agent');
      }
    }
    this.saveList();
  }

  list(): HostReplica[] {
    return [...this.entries.values()].filter((e) => e.state !== 'gone').map(wire);
  }

  onChange(listener: (replica: HostReplica) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts a replica and resolves once it serves; rejects if it exits or does not report ready. */
  async start(
    settings: Omit<ReplicaSettings, 'dataDir' | 'ownerPid'> & { id: string },
  ): Promise<HostReplica> {
    const output = openSync(join(this.options.stateDir, 'logs', `replica-${settings.id}.log`), 'a');
    let spawned: ReturnType<typeof spawnHedge>;
    try {
      spawned = spawnHedge(
        [...replicaArgs({ ...settings, dataDir: this.options.dataDir }), '--host', this.options.replicaHost],
        {
          detached: true,
          output,
          readyTimeoutMs: 20_000,
          // The URL carries a password: the environment is private to the user, argv is not.
          env: { DATABASE_URL: this.options.databaseUrl },
        },
      );
    } finally {
      closeSync(output);
    }
    const { child, ready } = spawned;
    const pid = child.pid;
    if (pid === undefined) throw new Error('the replica process could not be started');
    const entry: Entry = {
      id: settings.id,
      pid,
      address: '',
      startedAtMs: Date.now(),
      startTime: processStartTime(pid),
      state: 'running',
      child: true,
    };
    this.entries.set(pid, entry);
    child.once('exit', (code, signal) => {
      entry.exitCode = code ?? undefined;
      entry.exitSignal = signal ?? undefined;
      this.changed(entry, 'gone');
    });
    // Not a child to wait for: the agent may exit before it.
    child.unref();
    try {
      const message = await ready;
      entry.address = String(message.address);
    } catch (err) {
      signalQuietly(pid, 'SIGKILL');
      throw err;
    } finally {
      if (child.connected) child.disconnect();
    }
    this.saveList();
    this.log.info({ replica: entry.id, replicaPid: pid, address: entry.address }, 'replica started');
    this.emit(entry);
    return wire(entry);
  }

  /** Signals the replica `id` with this `pid`, only if it is still that live replica. */
  signal(id: string, pid: number, signal: NodeJS.Signals): boolean {
    const entry = this.entries.get(pid);
    if (!entry || entry.id !== id || entry.state === 'gone' || !isReplica(pid)) return false;
    signalQuietly(pid, signal);
    this.log.info({ replica: id, replicaPid: pid, signal }, 'signalled a replica');
    return true;
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.usageTimer);
    this.listeners.clear();
  }

  private watch(): void {
    for (const entry of this.entries.values()) {
      const state = processState(entry.pid);
      // A child is a zombie until its exit event, which reports how it ended.
      if (state === 'gone' && entry.child) continue;
      if (state !== entry.state) this.changed(entry, state);
    }
  }

  /** Each serving replica whose resident memory changed noticeably since last told: told again. */
  private tellUsage(): void {
    for (const entry of this.entries.values()) {
      if (entry.state === 'gone' || entry.address === '') continue;
      const rss = residentBytes(entry.pid);
      if (rss === undefined || !usageChanged(entry.rssBytes, rss)) continue;
      entry.rssBytes = rss;
      this.emit(entry);
    }
  }

  private changed(entry: Entry, state: Entry['state']): void {
    if (entry.state === state) return;
    entry.state = state;
    if (state === 'gone') {
      this.entries.delete(entry.pid);
      this.saveList();
    }
    this.emit(entry);
  }

  private emit(entry: Entry): void {
    for (const listener of this.listeners) listener(wire(entry));
  }

  private listPath(): string {
    return join(this.options.stateDir, 'replicas.json');
  }

  private readList(): Entry[] {
    const parsed = readJsonFile(this.listPath()) as { replicas?: Entry[] } | undefined;
    return Array.isArray(parsed?.replicas) ? parsed.replicas : [];
  }

  private saveList(): void {
    writeJsonFile(this.listPath(), { replicas: [...this.entries.values()] });
  }
}

function wire(entry: Entry): HostReplica {
  return {
    id: entry.id,
    pid: entry.pid,
    address: entry.address,
    state:
      entry.state === 'running'
        ? 'HOST_PROCESS_STATE_RUNNING'
        : entry.state === 'stopped'
          ? 'HOST_PROCESS_STATE_STOPPED'
          : 'HOST_PROCESS_STATE_GONE',
    started_at_ms: String(entry.startedAtMs),
    rss_bytes: String(entry.state === 'gone' ? 0 : (entry.rssBytes ?? residentBytes(entry.pid) ?? 0)),
    exit_code: entry.exitCode ?? 0,
    exit_signal: entry.exitSignal ?? '',
  };
}
