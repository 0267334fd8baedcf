import { Client, type status } from '@grpc/grpc-js';
import { deadlineAfter, PEER_CHANNEL_OPTIONS } from '../common/rpc.js';
import { channelCredentials } from '../tls/transport.js';
import type { ReplicaSet } from './call-engine.js';
import { DatabaseOutageMemory } from './failover-budget.js';
import type { MembershipWatcher, ReplicaMember, View } from './membership-watcher.js';
import { SilentReplicas } from './silent-replicas.js';

const REPORT_INTERVAL_MS = 500;
const CHANNEL_CLOSE_GRACE_MS = 10_000;

/**
 * The replicas as the call engine sees them: the current view, one channel per
 * member (opened when it joins, closed a while after it leaves), and fault
 * reports to the manager.
 */
export class ReplicaChannels implements ReplicaSet {
  private readonly channels = new Map<string, Client>();
  private readonly lastReport = new Map<string, number>();
  private readonly viewListeners = new Set<(view: View) => void>();
  private readonly closeListeners = new Set<() => void>();
  readonly databaseOutage = new DatabaseOutageMemory();
  readonly silentReplicas = new SilentReplicas();
  private rotation = 0;
  private closedFlag = false;

  constructor(
    private currentView: View,
    /** Where fault reports go; none without a manager or when reports are off. */
    private readonly reportsTo: MembershipWatcher | undefined,
  ) {
    this.applyView(currentView);
  }

  get view(): View {
    return this.currentView;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  candidates(rotate: boolean): ReplicaMember[] {
    const members = this.currentView.members;
    if (!rotate || members.length === 0) return [...members];
    const start = this.rotation++ % members.length;
    return [...members.slice(start), ...members.slice(0, start)];
  }

  channelFor(member: ReplicaMember): Client {
    if (this.closedFlag) throw new Error('the replicated client is closed');
    let channel = this.channels.get(member.address);
    if (!channel) {
      channel = new Client(member.address, channelCredentials('replica'), PEER_CHANNEL_OPTIONS);
      this.channels.set(member.address, channel);
    }
    return channel;
  }

  inView(member: ReplicaMember): boolean {
    return this.currentView.members.some((m) => m.address === member.address);
  }

  /** At most every 500 ms per replica, without making the caller wait. */
  reportFault(member: ReplicaMember, code: status, details: string): void {
    if (!this.reportsTo) return;
    const now = Date.now();
    if (now - (this.lastReport.get(member.address) ?? 0) < REPORT_INTERVAL_MS) return;
    this.lastReport.set(member.address, now);
    // The id and the address together name one incarnation: a report about a replaced process is ignored.
    this.reportsTo.manager.ReportFault(
      { replica_id: member.id, address: member.address, code, message: details },
      { deadline: deadlineAfter(2_000) },
      () => {},
    );
  }

  onViewChange(listener: (view: View) => void): () => void {
    this.viewListeners.add(listener);
    return () => this.viewListeners.delete(listener);
  }

  onClose(listener: () => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  applyView(view: View): void {
    if (this.closedFlag) return;
    this.currentView = view;
    this.silentReplicas.forget();
    const addresses = new Set(view.members.map((m) => m.address));
    for (const member of view.members) this.channelFor(member);
    for (const address of this.lastReport.keys())
      if (!addresses.has(address)) this.lastReport.delete(address);
    for (const [address, channel] of this.channels) {
      if (addresses.has(address)) continue;
      this.channels.delete(address);
      // Calls still in flight there are failed over by their executions; close later.
      setTimeout(() => channel.close(), CHANNEL_CLOSE_GRACE_MS).unref();
    }
    for (const l of this.viewListeners) l(view);
  }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const l of this.closeListeners) l();
    this.closeListeners.clear();
    for (const c of this.channels.values()) c.close();
    this.channels.clear();
  }
}
