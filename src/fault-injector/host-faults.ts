import { simulatedHostAt } from '../common/netns.js';
import type { HostStatus__Output } from '../gen/hedge/v1/HostStatus.js';

/**
 * Faults of a whole host: `partition` takes its link down (peers see silence,
 * never a refused connection) for a while, then up again; `host-crash` SIGKILLs
 * every process on it at once (what brings it back is the caller's). Both need the host to be a simulated one (a
 * network namespace of src/common/netns.ts, found by its agent's address): a
 * real host's cable and power are out of this process's reach.
 */
export type HostFaultKind = 'partition' | 'host-crash';

export function isHostFault(kind: string): kind is HostFaultKind {
  return kind === 'partition' || kind === 'host-crash';
}

export interface HostFaultOptions {
  /** How long the host is cut off, or down after a crash before `restart` brings it back. */
  downMs: number;
  /** Brings a crashed host's processes back (a bench's agent); without it the host stays down. */
  restart?: (host: string) => void;
  /** Schedules the heal; the injector runs it early when told to stop at once. */
  scheduleHeal: (heal: () => void, afterMs: number) => void;
}

/** Does it; returns why it could not, if it could not. */
export function actOnHost(
  kind: HostFaultKind,
  host: HostStatus__Output,
  options: HostFaultOptions,
): string | undefined {
  const address = host.address.slice(0, host.address.lastIndexOf(':'));
  const simulated = simulatedHostAt(address);
  if (!simulated) {
    return `host ${host.name} (${address}) is no simulated host (a network namespace, as root): ${kind} cuts off only those`;
  }
  try {
    if (kind === 'partition') {
      simulated.partition();
      options.scheduleHeal(() => simulated.heal(), options.downMs);
    } else {
      if (simulated.crash().length === 0) return `no process was running on host ${host.name}`;
      const { restart } = options;
      if (restart) options.scheduleHeal(() => restart(host.name), options.downMs);
    }
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
