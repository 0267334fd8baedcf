import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Member } from '../gen/hedge/v1/Member.js';
import type { Membership__Output } from '../gen/hedge/v1/Membership.js';

type Watcher = ServerWritableStream<unknown, Membership__Output>;

/**
 * The numbered view of serving replicas, and the streams that watch it. A
 * publisher made `held` answers nobody until `open()`: a restarted manager
 * serves gRPC while it adopts the running replicas, and an empty view under the
 * old number would be taken by a client's reconnecting watcher (a new stream's
 * first view wins) and leave it with no replica to call.
 */
export class MembershipPublisher {
  private view: number;
  private members: Member[] = [];
  private readonly watchers = new Set<Watcher>();
  private held: boolean;
  private release: () => void = () => {};
  /** Resolves when the publisher answers: at once unless made held, else at `open()`. */
  readonly opened: Promise<void>;

  constructor(initialView: number, options: { held?: boolean } = {}) {
    this.view = initialView;
    this.held = options.held ?? false;
    this.opened = this.held
      ? new Promise((resolve) => {
          this.release = resolve;
        })
      : Promise.resolve();
  }

  /** Starts answering: every watcher that came meanwhile gets the current view. */
  open(): void {
    if (!this.held) return;
    this.held = false;
    const membership = this.current();
    for (const w of this.watchers) w.write(membership);
    this.release();
  }

  get viewNumber(): number {
    return this.view;
  }

  current(): Membership__Output {
    return {
      view: String(this.view),
      members: this.members.map((m) => ({ id: m.id ?? '', address: m.address ?? '' })),
    };
  }

  /** Makes a new view if the members changed; pushes it to every watcher. Returns true if it did. */
  publish(members: Member[]): boolean {
    const key = (ms: Member[]) => ms.map((m) => `${m.id}@${m.address}`).join(',');
    if (key(members) === key(this.members)) return false;
    this.members = members;
    this.view += 1;
    if (this.held) return true;
    const membership = this.current();
    for (const w of this.watchers) w.write(membership);
    return true;
  }

  watch(call: Watcher): void {
    this.watchers.add(call);
    const remove = () => this.watchers.delete(call);
    call.on('cancelled', remove);
    call.on('close', remove);
    call.on('error', remove);
    if (!this.held) call.write(this.current());
  }

  endWatches(): void {
    for (const w of this.watchers) w.end();
    this.watchers.clear();
  }
}
