import type { ReplicaMember } from './membership-watcher.js';

/**
 * The replicas an attempt of this client timed out on lately (silent: cut off by a
 * partition, hung, frozen), each with the time of its last timeout. A policy with
 * `demoteSilentMs` tries them after every other member of the view, so that a
 * silent first replica costs one attempt timeout, not one per call until the
 * manager drops it. A replica is forgotten once it answers, after that time, or
 * when the view changes (the manager has judged the replicas again).
 */
export class SilentReplicas {
  private readonly lastTimeoutMs = new Map<string, number>();

  timedOut(address: string, atMs = Date.now()): void {
    this.lastTimeoutMs.set(address, atMs);
  }

  answered(address: string): void {
    this.lastTimeoutMs.delete(address);
  }

  forget(): void {
    this.lastTimeoutMs.clear();
  }

  /** `members` in their order, those that timed out within `windowMs` last (in their order too). */
  last(members: ReplicaMember[], windowMs: number, nowMs = Date.now()): ReplicaMember[] {
    if (this.lastTimeoutMs.size === 0) return members;
    const silent = (m: ReplicaMember) => nowMs - (this.lastTimeoutMs.get(m.address) ?? -Infinity) < windowMs;
    return [...members.filter((m) => !silent(m)), ...members.filter(silent)];
  }
}
