/**
 * Where the manager starts each replica when it has several hosts: a pure
 * function of the hosts it can reach and what already runs where, so the rule
 * is tested on its own.
 *
 * Every slot has a home host (slot n's is host (n-1) mod hosts, in the order
 * the hosts were given), so with as many hosts as slots (members and spares)
 * every process has a host of its own. A slot whose home is unreachable goes to
 * the reachable host with the fewest processes (ties: the earliest in the
 * list), and `movesHome` names the slots to bring back once their home returns.
 */
export interface PlacementHost {
  name: string;
  /** Its agent answers: it can take a replica. */
  reachable: boolean;
}

export interface Placed {
  slot: string;
  host: string;
}

/** The host given for slot `r<n>`, by the slot's number; the first for an id without one. */
export function homeOf(slot: string, hosts: readonly PlacementHost[]): string | undefined {
  if (hosts.length === 0) return undefined;
  const n = Number(/(\d+)$/.exec(slot)?.[1] ?? 1);
  return hosts[(Math.max(n, 1) - 1) % hosts.length]?.name;
}

/**
 * The host for a new process of `slot`, given the other slots' processes
 * (`placed`, which may include this slot's old one: it is not counted); undefined
 * when no host is reachable.
 */
export function chooseHost(
  slot: string,
  hosts: readonly PlacementHost[],
  placed: readonly Placed[],
): string | undefined {
  const reachable = hosts.filter((h) => h.reachable);
  if (reachable.length === 0) return undefined;
  const load = (host: string) => placed.filter((p) => p.host === host && p.slot !== slot).length;
  const home = homeOf(slot, hosts);
  const homeHost = reachable.find((h) => h.name === home);
  const fewest = Math.min(...reachable.map((h) => load(h.name)));
  if (homeHost && load(homeHost.name) === fewest) return homeHost.name;
  return reachable.find((h) => load(h.name) === fewest)?.name;
}

/**
 * Slots running away from their home host while it is reachable and serves none
 * of its own: each such slot, at most one per home, is to move back. A warm spare
 * (`isSpare`) is never moved, and one at home does not count as serving there: it
 * is what takes the moving slot's place in the view.
 */
export function movesHome(
  hosts: readonly PlacementHost[],
  placed: readonly Placed[],
  isSpare: (slot: string) => boolean = () => false,
): Placed[] {
  const moves: Placed[] = [];
  for (const p of placed) {
    const home = homeOf(p.slot, hosts);
    if (home === undefined || home === p.host || isSpare(p.slot)) continue;
    if (!hosts.find((h) => h.name === home)?.reachable) continue;
    if (placed.some((q) => q.host === home && homeOf(q.slot, hosts) === home && !isSpare(q.slot))) continue;
    if (moves.some((m) => m.host === home)) continue;
    moves.push({ slot: p.slot, host: home });
  }
  return moves;
}
