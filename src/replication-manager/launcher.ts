import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { spawnHedge } from '../common/hedge-process.js';
import { isAlive, type ProcessState, signalQuietly } from '../common/process-state.js';
import { ProcessStateReader } from '../common/process-state-reader.js';
import { isHedgeReplica, residentBytes } from '../common/replica-process.js';
import { type ReplicaSettings, replicaArgs } from '../common/settings.js';
import type { RegistryEntry } from './registry.js';

/** A replica process being started. */
export interface Launch {
  /** Known at once for a local child; a remote one's comes with `ready`. */
  pid?: number;
  ready: Promise<{ pid: number; address: string }>;
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  /** The process is ready and no longer needs its channel to the manager. */
  detach(): void;
}

/** What a termination came to. `unreachable`: its host could not be asked, so it may still run. */
export type Ended = 'gone' | 'timeout' | 'unreachable';

export interface HostView {
  name: string;
  address: string;
  reachable: boolean;
  /** Slot ids of the processes there. */
  replicas: string[];
}

/** A replica's host whose agent has gone quiet while the manager hears a majority of its hosts. */
export interface HostSilence {
  /** How long its agent has not been heard. */
  silentMs: number;
  /** When it was last heard: one episode of silence. */
  sinceMs: number;
}

/**
 * Where the supervisor's processes come from and how it reaches them: every
 * spawn, signal, wait and /proc read of a replica goes through here, by slot id
 * and pid (a pid alone names a process only on one host). The local launcher
 * spawns children of the manager, as hedge always has; agents.ts places them on
 * several hosts through their agents.
 */
export interface Launcher {
  /** Resolves once the hosts are known (each agent's first list, or a while without it). */
  connect(): Promise<void>;
  /** Starts a replica for `id`; throws when no process can be had at all. */
  start(id: string, settings: ReplicaSettings): Launch;
  state(id: string, pid: number): ProcessState;
  /** Signals the replica if it is still that live replica; `unreachable` when its host cannot be asked. */
  signal(id: string, pid: number, signal: NodeJS.Signals): Promise<'sent' | 'gone' | 'unreachable'>;
  /** Resolves once the replica is gone, or `timeout`. */
  waitForExit(id: string, pid: number, timeoutMs: number): Promise<Ended>;
  residentBytes(id: string, pid: number): number | undefined;
  /** Whether a registered replica is still that live hedge replica (a restarted manager adopts it then). */
  adoptable(entry: RegistryEntry): Promise<boolean>;
  /** The host a replica runs on, for the registry and status; undefined for local ones. */
  hostOf(id: string, pid: number): string | undefined;
  hosts(): HostView[];
  /** Slots running away from their home host while it is back and serves none of its own (placement.ts's movesHome). */
  movesHome(isSpare: (slot: string) => boolean): { slot: string; host: string }[];
  /**
   * Whether the replica's unanswered health checks are evidence against it: its
   * host's agent is heard, or the manager hears a strict majority of its hosts
   * (host-quorum.ts). Otherwise the manager cannot tell the replica's silence from
   * its own, and its detector starts over. Always true on one host.
   */
  silenceCounts(id: string, pid: number | undefined): boolean;
  /**
   * The replica's host agent has gone quiet (two ticks missed) while the manager
   * still hears a majority of its hosts: its replicas are then probed directly,
   * and judged by their own silence. Undefined otherwise, and on one host.
   */
  hostSilence(id: string, pid: number): HostSilence | undefined;
  /** The supervisor has adopted what it could: what else runs on the hosts is stale. */
  settled(current: () => { id: string; pid?: number }[]): void;
  close(): void;
}

/** Children of the manager on its own host: hedge's behaviour without agents. */
export class LocalLauncher implements Launcher {
  private readonly children = new Map<number, ChildProcess>();
  private readonly states = new ProcessStateReader();

  constructor(
    private readonly logDir: string,
    private readonly databaseUrl: string,
  ) {}

  async connect(): Promise<void> {}

  start(id: string, settings: ReplicaSettings): Launch {
    const output = openSync(join(this.logDir, `replica-${id}.log`), 'a');
    let spawned: ReturnType<typeof spawnHedge>;
    try {
      spawned = spawnHedge(replicaArgs({ ...settings, id }), {
        detached: true,
        output,
        readyTimeoutMs: 20_000,
        // The URL carries a password: the environment is private to the user, argv is not.
        env: { DATABASE_URL: this.databaseUrl },
      });
    } finally {
      // The child has its own copy of the descriptor.
      closeSync(output);
    }
    const { child, ready } = spawned;
    const pid = child.pid;
    if (pid !== undefined) {
      this.children.set(pid, child);
      child.once('exit', () => this.children.delete(pid));
    }
    return {
      pid,
      ready: ready.then((message) => ({ pid: message.pid, address: String(message.address) })),
      onExit: (listener) => child.once('exit', listener),
      detach: () => {
        if (child.connected) child.disconnect();
      },
    };
  }

  state(_id: string, pid: number): ProcessState {
    return this.states.state(pid);
  }

  async signal(_id: string, pid: number, signal: NodeJS.Signals): Promise<'sent' | 'gone'> {
    // An adopted pid is signalled only while it is still a hedge replica (pids are reused).
    if (!isAlive(pid) || (!this.children.has(pid) && !isHedgeReplica(pid))) return 'gone';
    signalQuietly(pid, signal);
    return 'sent';
  }

  async waitForExit(_id: string, pid: number, timeoutMs: number): Promise<Ended> {
    const deadline = Date.now() + timeoutMs;
    const child = this.children.get(pid);
    if (child && child.exitCode === null && child.signalCode === null) {
      let timer: NodeJS.Timeout | undefined;
      let onExit = () => {};
      await new Promise<void>((resolve) => {
        onExit = resolve;
        child.once('exit', onExit);
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
      child.off('exit', onExit);
    }
    while (isAlive(pid)) {
      if (Date.now() > deadline) return 'timeout';
      await delay(10);
    }
    return 'gone';
  }

  residentBytes(_id: string, pid: number): number | undefined {
    return residentBytes(pid);
  }

  async adoptable(entry: RegistryEntry): Promise<boolean> {
    return isAlive(entry.pid) && isHedgeReplica(entry.pid);
  }

  hostOf(): undefined {
    return undefined;
  }

  hosts(): HostView[] {
    return [];
  }

  movesHome(): { slot: string; host: string }[] {
    return [];
  }

  silenceCounts(): boolean {
    return true;
  }

  hostSilence(): undefined {
    return undefined;
  }

  settled(): void {}

  close(): void {
    this.states.close();
  }
}
