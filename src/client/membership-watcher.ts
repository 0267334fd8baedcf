import { BACKOFF } from '../common/backoff.js';
import { type Watch, watch } from '../common/watch-stream.js';
import type { Member__Output } from '../gen/hedge/v1/Member.js';
import type { Membership__Output } from '../gen/hedge/v1/Membership.js';
import type { ReplicationManagerClient } from '../gen/hedge/v1/ReplicationManager.js';
import { fetchMembership, managerClient } from './manager-client.js';

export type ReplicaMember = Member__Output;

export interface View {
  number: bigint;
  members: ReplicaMember[];
}

/**
 * The manager's membership, watched as a stream so that a client learns of a new
 * replica before it needs it. When the manager goes away the last view stays in
 * force and the watcher reconnects with back-off; trading never waits for it.
 */
export class MembershipWatcher {
  private current: View = { number: -1n, members: [] };
  private watching: Watch | undefined;
  private closed = false;
  private readonly listeners = new Set<(view: View) => void>();
  readonly manager: ReplicationManagerClient;

  constructor(address: string) {
    this.manager = managerClient(address);
  }

  get view(): View {
    return this.current;
  }

  onChange(listener: (view: View) => void): void {
    this.listeners.add(listener);
  }

  /** Resolves with the first view (fetched once, then watched). */
  async start(timeoutMs: number): Promise<View> {
    const first = await fetchMembership(this.manager, timeoutMs);
    this.accept(first, true);
    this.follow();
    return this.current;
  }

  close(): void {
    this.closed = true;
    this.watching?.close();
    this.manager.close();
  }

  private follow(): void {
    if (this.closed) return;
    let fresh = true;
    this.watching = watch<Membership__Output>({
      open: () => this.manager.WatchMembership({}),
      onOpen: () => {
        fresh = true;
      },
      onData: (m) => {
        // The first view of a new stream is taken even if its number went down: the
        // manager may have lost its registry and started counting again.
        this.accept(m, fresh);
        fresh = false;
      },
      backoff: BACKOFF.membership,
      name: 'membership',
    });
  }

  private accept(m: Membership__Output, force: boolean): void {
    const number = BigInt(m.view);
    if (!force && number <= this.current.number) return;
    this.current = { number, members: m.members };
    for (const l of this.listeners) l(this.current);
  }
}
