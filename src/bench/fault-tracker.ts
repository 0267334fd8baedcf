import { setTimeout as delay } from 'node:timers/promises';
import { fetchStatus, managerClient } from '../client/manager-client.js';
import { FaultInjector, type FaultKind, type Injection } from '../fault-injector/injector.js';

/** One injected fault, followed through the manager's status to its end. */
export interface FaultRecord {
  kind: FaultKind;
  replica: string;
  pid: number;
  injected_at_ms: number;
  /** When the manager found the replica faulty. */
  detected_at_ms: number | null;
  /** When the replacement (the slot's next process, or a warm spare) was serving in the view. */
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
        slowDelayMs: 0,
        slowDurationMs: 0,
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
    await Promise.all(this.following);
    this.manager.close();
    return this.faults;
  }

  private onInjection(injection: Injection): void {
    if (injection.outcome !== 'injected' || !injection.target) return;
    const record: FaultRecord = {
      kind: this.options.kind,
      replica: injection.target.id,
      pid: injection.target.pid,
      injected_at_ms: injection.time_ms,
      detected_at_ms: null,
      recovered_at_ms: null,
      detection_ms: null,
      recovery_ms: null,
    };
    this.faults.push(record);
    this.following.push(this.follow(record));
  }

  private async follow(record: FaultRecord): Promise<void> {
    const giveUpAt = Date.now() + FOLLOW_MS;
    while (Date.now() < giveUpAt) {
      const status = await fetchStatus(this.manager, 1_000).catch(() => undefined);
      const slot = status?.replicas.find((r) => r.id === record.replica);
      if (slot) {
        const faultAt = Number(slot.last_fault_at_ms);
        if (record.detected_at_ms === null && faultAt >= record.injected_at_ms) {
          record.detected_at_ms = faultAt;
          record.detection_ms = faultAt - record.injected_at_ms;
        }
      }
      // The replacement: the slot's own next process, or a warm spare that joined the view in its place.
      const detectedAt = record.detected_at_ms;
      const since = (status?.replicas ?? [])
        .filter((r) => r.state === 'REPLICA_STATE_SERVING' && r.pid !== record.pid)
        .map((r) => Number(r.serving_since_ms))
        .filter((t) => detectedAt !== null && t >= detectedAt);
      if (since.length > 0) {
        const servingSince = Math.min(...since);
        record.recovered_at_ms = servingSince;
        record.recovery_ms = servingSince - record.injected_at_ms;
        return;
      }
      await delay(POLL_MS);
    }
  }
}
