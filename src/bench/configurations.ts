import type { ReplicationMode } from '../client/replication-mode.js';

export type ConfigName = 'single' | 'passive' | 'active-nocache' | 'active' | 'hedged-2' | 'deferred';
/**
 * db-primary: SIGKILL the database primary's postmaster (a system of several database nodes, `hedge up --ha`);
 * feed: SIGKILL one of the two feeds (the bench restarts it on its port);
 * overload: no fault injected; two busy loops beside the system and more load than it sustains (spurious faults counted);
 * partition, host-crash: a simulated host (`--hosts`) cut off, or every process on it killed and its link down, for --host-down-for;
 * delay: the connections to such a host delayed by --host-delay each way, for --host-down-for.
 */
export type FaultMode =
  | 'none'
  | 'crash'
  | 'hang'
  | 'db-primary'
  | 'feed'
  | 'overload'
  | 'partition'
  | 'host-crash'
  | 'delay';

export const CONFIG_NAMES: readonly ConfigName[] = [
  'single',
  'passive',
  'active-nocache',
  'active',
  'hedged-2',
  'deferred',
];
export const FAULT_MODES: readonly FaultMode[] = [
  'none',
  'crash',
  'hang',
  'db-primary',
  'feed',
  'overload',
  'partition',
  'host-crash',
  'delay',
];
/** What `hedge bench` runs unless told otherwise: the replica faults the seed measured. */
export const DEFAULT_FAULT_MODES: readonly FaultMode[] = ['none', 'crash', 'hang'];

export interface BenchConfig {
  name: ConfigName;
  description: string;
  replicas: number;
  dedup: 'cache' | 'abort';
  mode: ReplicationMode;
  hedgeSize?: number;
  /** The client-side configurations can run against an already running system. */
  clientSideOnly: boolean;
}

export const CONFIGS: Record<ConfigName, BenchConfig> = {
  single: {
    name: 'single',
    description: 'one replica, no replication (the baseline cost); fault-free only',
    replicas: 1,
    dedup: 'cache',
    mode: 'passive',
    clientSideOnly: false,
  },
  passive: {
    name: 'passive',
    description: 'three replicas; each call to the primary, failing over to the next',
    replicas: 3,
    dedup: 'cache',
    mode: 'passive',
    clientSideOnly: true,
  },
  'active-nocache': {
    name: 'active-nocache',
    description: "three replicas, each call to all; dedup 'abort' (the seed's second configuration)",
    replicas: 3,
    dedup: 'abort',
    mode: 'active',
    clientSideOnly: false,
  },
  active: {
    name: 'active',
    description: "three replicas, each call to all; dedup 'cache' (the seed's third)",
    replicas: 3,
    dedup: 'cache',
    mode: 'active',
    clientSideOnly: true,
  },
  'hedged-2': {
    name: 'hedged-2',
    description: 'three replicas, each call to two of them in turn (the seed’s "load reduction")',
    replicas: 3,
    dedup: 'cache',
    mode: 'hedged',
    hedgeSize: 2,
    clientSideOnly: true,
  },
  deferred: {
    name: 'deferred',
    description:
      'three replicas, each call to the first and to a second only if no answer came within the p95 of recent calls',
    replicas: 3,
    dedup: 'cache',
    mode: 'deferred',
    clientSideOnly: true,
  },
};

/**
 * The seed's own averages (004_07fa56b7fd498d69.txt: Java/CORBA, several machines,
 * a replica killed every 15 s), to print beside ours.
 */
export const SEED_FIGURES: Partial<
  Record<ConfigName, { fault_free_mean_ms: number; faulted_mean_ms: number; failover_bound_ms?: number }>
> = {
  passive: { fault_free_mean_ms: 289, faulted_mean_ms: 458 },
  'active-nocache': { fault_free_mean_ms: 197, faulted_mean_ms: 382, failover_bound_ms: 850 },
  active: { fault_free_mean_ms: 168, faulted_mean_ms: 278 },
};

/** `hedge bench-workload`: a single replica, then three with the passive and the active client (and, asked for, the deferred). */
export interface WorkloadBenchConfig {
  name: string;
  replicas: number;
  mode: ReplicationMode;
}

export const WORKLOAD_CONFIGS: WorkloadBenchConfig[] = [
  { name: 'single', replicas: 1, mode: 'passive' },
  { name: 'passive', replicas: 3, mode: 'passive' },
  { name: 'active', replicas: 3, mode: 'active' },
  { name: 'deferred', replicas: 3, mode: 'deferred' },
];
