import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Member } from '../gen/hedge/v1/Member.js';
import type { Membership__Output } from '../gen/hedge/v1/Membership.js';

type Watcher = ServerWritableStream<unknown, Membership__Output>;

/** The numbered view of serving replicas, and the streams that watch it. */
export class MembershipPublisher {
  private view: number;
  private members: Member[] = [];
  private readonly watchers = new Set<Watcher>();

  constructor(initialView: number) {
    this.view = initialView;
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
    call.write(this.current());
  }

  endWatches(): void {
    for (const w of this.watchers) w.end();
    this.watchers.clear();
  }
}
