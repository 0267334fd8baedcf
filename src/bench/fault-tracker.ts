import { setTimeout as delay } from 'node:timers/promises';
import { fetchStatus, managerClient } from '../client/manager-client.js';
import { liveFeeds } from '../common/live-feeds.js';
import { primaryPostmaster } from '../common/primary-postmaster.js';
import type { DelayScope } from '../fault-injector/host-delay-rules.js';
import { FaultInjector, type FaultKind, type Injection } from '../fault-injector/injector.js';

/** One injected fault, followed through the manager's status to its end. */
export interface FaultRecord {
  kind: FaultKind;
  /** The replica's slot; a host fault's first casualty's. */
  replica: string;
  pid: number;
  /** A host fault's host, and every replica that was serving on it. */
  host?: string;
  casualties?: { id: string; pid: number }[];
  injected_at_ms: number;
  /** When the manager found the replica (a host fault: its first casualty) faulty. */
  detected_at_ms: number | null;
  /** When the replacement (the slot's next process, or a warm spare; a host fault: the last one's) was serving in the view. */
  recovered_at_ms: number | null;
  detection_ms: number | null;
  recovery_ms: number | null;
}

export interface FaultTrackerOptions {
  manager: string;
  kind: FaultKind;
  /** Offsets from the start of the measured time. */
  atMs: number[];
  seed: number;
  hangMs: number;
  /** How long a partitioned host is cut off, a delay lasts, or a crashed one down before `restartHost`. */
  hostDownMs?: number;
  /** What a delay adds to each chunk of the host's connections, each way, and to which. */
  hostDelayMs?: number;
  hostDelayScope?: DelayScope;
  restartHost?: (host: string) => void;
  /** The database, for db-primary faults. */
  databaseUrl?: string;
  /** The system's data directory: the feeds' run files (kind `feed`). */
  dataDir?: string;
}

const POLL_MS = 10;
/** Give up following a fault after this long. */
const FOLLOW_MS = 30_000;

/**
 * Injects faults at fixed offsets and records, for each, when the manager
 * detected it (its own timestamp of the fault) and when the replacement began
 * serving in the view (the replacement's serving-since timestamp), both read
 * from the manager's status.
 */
export class FaultTracker {
  readonly faults: FaultRecord[] = [];
  private readonly following: Promise<void>[] = [];
  private readonly injector: FaultInjector;
  private readonly manager: ReturnType<typeof managerClient>;

  constructor(private readonly options: FaultTrackerOptions) {
    this.manager = managerClient(options.manager);
    this.injector = new FaultInjector(
      {
        manager: options.manager,
        kinds: [options.kind],
        atMs: options.atMs,
        seed: options.seed,
        hangMs: options.hangMs,
        hostDownMs: options.hostDownMs,
        hostDelayMs: options.hostDelayMs,
        hostDelayScope: options.hostDelayScope,
        restartHost: options.restartHost,
        slowDelayMs: 0,
        slowDurationMs: 0,
        databaseUrl: options.databaseUrl,
        dataDir: options.dataDir,
      },
      (injection) => this.onInjection(injection),
    );
  }

  start(): void {
    this.injector.start();
  }

  /** Stops injecting and waits for every injected fault to be detected and recovered (or given up on). */
  async finish(): Promise<FaultRecord[]> {
    this.injector.stop();
    // A partition under way heals (a crashed host restarts) first: the next run starts with every host on the network.
    await this.injector.finished;
    await Promise.all(this.following);
    this.manager.close();
    return this.faults;
  }

  private onInjection(injection: Injection): void {
    if (injection.outcome !== 'injected' || !injection.target) return;
    // A delay takes no replica out: nothing for the manager to detect or replace (a fault it finds is
    // spurious), and its window is the delay's own.
    const delayed = this.options.kind === 'delay';
    const casualties = delayed ? [] : injection.replicas;
    const first = casualties?.[0];
    const record: FaultRecord = {
      kind: this.options.kind,
      replica: first?.id ?? injection.target.id,
      pid: first?.pid ?? injection.target.pid,
      ...(casualties ? { host: injection.target.id, casualties } : {}),
      injected_at_ms: injection.time_ms,
      detected_at_ms: null,
      recovered_at_ms: null,
      detection_ms: null,
      recovery_ms: null,
    };
    this.faults.push(record);
    if (delayed) {
      record.recovered_at_ms = injection.time_ms + (this.options.hostDownMs ?? 10_000);
      return;
    }
    this.following.push(record.kind === 'db-primary' ? this.followPromotion(record) : this.follow(record));
  }

  /**
   * A killed database primary, followed until a primary answers again with
   * another postmaster (a standby promoted, or the node restarted). Seen from
   * outside, Patroni's detection and the promotion are one interval: both
   * figures are that interval.
   */
  private async followPromotion(record: FaultRecord): Promise<void> {
    const giveUpAt = Date.now() + FOLLOW_MS;
    while (Date.now() < giveUpAt && this.options.databaseUrl) {
      const primary = await primaryPostmaster(this.options.databaseUrl).catch(() => undefined);
      if (primary && primary.pid !== record.pid) {
        const at = Date.now();
        record.detected_at_ms = at;
        record.recovered_at_ms = at;
        record.detection_ms = at - record.injected_at_ms;
        record.recovery_ms = at - record.injected_at_ms;
        return;
      }
      await delay(100);
    }
  }

  private async follow(record: FaultRecord): Promise<void> {
    if (record.kind === 'feed') return this.followFeed(record);
    const giveUpAt = Date.now() + FOLLOW_MS;
    while (Date.now() < giveUpAt) {
      const status = await fetchStatus(this.manager, 1_000).catch(() => undefined);
      const lost = record.casualties ?? [{ id: record.replica, pid: record.pid }];
      const faultAt = Math.min(
        ...lost
          .map((c) => Number(status?.replicas.find((r) => r.id === c.id)?.last_fault_at_ms ?? 0))
          .filter((t) => t >= record.injected_at_ms),
      );
      if (record.detected_at_ms === null && Number.isFinite(faultAt)) {
        record.detected_at_ms = faultAt;
        record.detection_ms = faultAt - record.injected_at_ms;
      }
      // The replacements: the slots' own next processes, or warm spares that joined the view in their place.
      const detectedAt = record.detected_at_ms;
      const since = (status?.replicas ?? [])
        .filter((r) => r.state === 'REPLICA_STATE_SERVING' && !lost.some((c) => c.pid === r.pid))
        .map((r) => Number(r.serving_since_ms))
        .filter((t) => detectedAt !== null && t >= detectedAt)
        .sort((a, b) => a - b);
      if (since.length >= lost.length) {
        const servingSince = since[lost.length - 1] as number;
        record.recovered_at_ms = servingSince;
        record.recovery_ms = servingSince - record.injected_at_ms;
        return;
      }
      await delay(POLL_MS);
    }
  }

  /**
   * A killed feed is nobody's to detect (clients and replicas follow every feed
   * and simply stop hearing from it): detection stays null, and recovery is when
   * its restarted process runs, by its run file.
   */
  private async followFeed(record: FaultRecord): Promise<void> {
    const giveUpAt = Date.now() + FOLLOW_MS;
    while (Date.now() < giveUpAt) {
      const back = liveFeeds(this.options.dataDir ?? '').find(
        (f) => f.name === record.replica && f.pid !== record.pid,
      );
      if (back) {
        record.recovered_at_ms = Date.now();
        record.recovery_ms = record.recovered_at_ms - record.injected_at_ms;
        return;
      }
      await delay(POLL_MS);
    }
  }
}
