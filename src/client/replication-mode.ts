/**
 * How the replicated client uses the view: every replica at once, one with fail-over,
 * two, or one and a second only if the first is slow (deferred). Apart from the client so that the CLI can offer the modes without loading it.
 */
export type ReplicationMode = 'active' | 'passive' | 'hedged' | 'deferred';
export const REPLICATION_MODES: readonly ReplicationMode[] = ['active', 'passive', 'hedged', 'deferred'];
