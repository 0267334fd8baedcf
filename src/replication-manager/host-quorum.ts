import { HOST_SILENCE_MS } from './slot-machine.js';

/** A host as the manager hears it: its agent's last word. */
export interface HeardHost {
  name: string;
  lastHeardMs: number;
}

/** A host counts towards the manager's majority if heard this recently (three of its agent's 250 ms ticks). */
export const QUORUM_FRESH_MS = 750;

/** Its agent heard within HOST_SILENCE_MS: the host is in reach. */
export function inReach(host: HeardHost, nowMs: number): boolean {
  return nowMs - host.lastHeardMs < HOST_SILENCE_MS;
}

/** More than half of `hosts` heard within QUORUM_FRESH_MS, not counting `besides` (the host in question). */
export function hearsMajority(hosts: HeardHost[], nowMs: number, besides?: string): boolean {
  const heard = hosts.filter((h) => h.name !== besides && nowMs - h.lastHeardMs < QUORUM_FRESH_MS);
  return heard.length * 2 > hosts.length;
}

/**
 * Whether a replica's unanswered health checks are evidence against it (decision:
 * issue 16). They are if its host's agent is heard: the silence is the replica's
 * own. They are if the manager hears a strict majority of its hosts: the host's
 * silence is then the host's, not the manager's. Otherwise the manager may be the
 * one cut off (or stalled), and cannot tell: no evidence, whatever it hears of the
 * hosts it still reaches. A replica on no host the manager knows (`undefined`:
 * its agent reported it gone) is judged as ever: that is knowledge, not silence.
 */
export function silenceCounts(host: string | undefined, hosts: HeardHost[], nowMs: number): boolean {
  const own = host === undefined ? undefined : hosts.find((h) => h.name === host);
  if (!own || inReach(own, nowMs)) return true;
  return hearsMajority(hosts, nowMs, own.name);
}
