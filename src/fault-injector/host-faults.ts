import { simulatedHostAt } from '../common/netns.js';
import type { HostStatus__Output } from '../gen/hedge/v1/HostStatus.js';
import { startHostDelay } from './host-delay.js';
import type { DelayScope } from './host-delay-rules.js';

/**
 * Faults of a whole host: `partition` takes its link down (peers see silence,
 * never a refused connection) for a while, then up again; `host-crash` SIGKILLs
 * every process on it at once and takes its link down, silent as a crashed host
 * is, until it comes back: the link up after the same while, with nothing
 * running (starting its agent again is the caller's, as a host's init system
 * would); `delay` adds latency to its connections for the same while
 * (host-delay.ts): by default (scope `all`) both those other hosts make to it
 * and those it makes, to the database and the feeds; scope `incoming` only the
 * former. All need the host to be a simulated one (a
 * network namespace of src/common/netns.ts, found by its agent's address): a
 * real host's cable and power are out of this process's reach.
 */
export type HostFaultKind = 'partition' | 'host-crash' | 'delay';

export function isHostFault(kind: string): kind is HostFaultKind {
  return kind === 'partition' || kind === 'host-crash' || kind === 'delay';
}

export interface HostFaultOptions {
  /** How long the host is cut off, delayed, or down (silent) after a crash before its link and `restart` bring it back. */
  downMs: number;
  /** What a delay adds to each chunk, each way, and to which connections. */
  delayMs?: number;
  delayScope?: DelayScope;
  /** Brings a crashed host's processes back once its link is up (a bench's agent); without it none runs there. */
  restart?: (host: string) => void;
  /** Schedules the heal; the injector runs it early when told to stop at once. */
  scheduleHeal: (heal: () => void | Promise<void>, afterMs: number) => void;
}

/** Does it; returns why it could not, if it could not. */
export async function actOnHost(
  kind: HostFaultKind,
  host: HostStatus__Output,
  options: HostFaultOptions,
): Promise<string | undefined> {
  const address = host.address.slice(0, host.address.lastIndexOf(':'));
  const simulated = simulatedHostAt(address);
  if (!simulated) {
    return `host ${host.name} (${address}) is no simulated host (a network namespace, as root): ${kind} cuts off only those`;
  }
  try {
    if (kind === 'partition') {
      simulated.partition();
      options.scheduleHeal(() => simulated.heal(), options.downMs);
    } else if (kind === 'delay') {
      const delay = await startHostDelay(
        simulated.namespace,
        address,
        options.delayMs ?? 100,
        options.delayScope,
      );
      options.scheduleHeal(delay.stop, options.downMs);
    } else {
      if (simulated.crash().length === 0) {
        simulated.heal();
        return `no process was running on host ${host.name}`;
      }
      // The link first: an agent started on a host still cut off would be unreachable.
      options.scheduleHeal(() => {
        simulated.heal();
        options.restart?.(host.name);
      }, options.downMs);
    }
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
