import { describe, expect, it } from 'vitest';
import {
  chooseHost,
  homeOf,
  movesHome,
  type PlacementHost,
} from '../../src/replication-manager/placement.js';

const hosts = (...names: string[]): PlacementHost[] => names.map((name) => ({ name, reachable: true }));
const down = (list: PlacementHost[], name: string) =>
  list.map((h) => (h.name === name ? { ...h, reachable: false } : h));

describe('placement', () => {
  it('puts slot n on host (n-1) mod hosts: three replicas and a spare on three hosts, the spare shares the first', () => {
    const three = hosts('a', 'b', 'c');
    expect(['r1', 'r2', 'r3', 'r4'].map((s) => homeOf(s, three))).toEqual(['a', 'b', 'c', 'a']);
    const placed: { slot: string; host: string }[] = [];
    for (const slot of ['r1', 'r2', 'r3']) {
      const host = chooseHost(slot, three, placed);
      expect(host).toBeDefined();
      placed.push({ slot, host: host as string });
    }
    expect(placed.map((p) => p.host)).toEqual(['a', 'b', 'c']);
  });

  it('replaces a lost host’s replica on the least loaded reachable host, never on the lost one', () => {
    const three = down(hosts('a', 'b', 'c'), 'b');
    const placed = [
      { slot: 'r1', host: 'a' },
      { slot: 'r2', host: 'b' },
      { slot: 'r3', host: 'c' },
    ];
    const host = chooseHost('r2', three, placed);
    expect(host).toBe('a');
    // With a, c both holding one, a second lost slot goes to the other of them, not onto a again.
    expect(
      chooseHost('r4', three, [...placed.filter((p) => p.slot !== 'r2'), { slot: 'r2', host: 'a' }]),
    ).toBe('c');
  });

  it('places nothing when no host is reachable', () => {
    expect(chooseHost('r1', down(down(hosts('a', 'b'), 'a'), 'b'), [])).toBeUndefined();
    expect(chooseHost('r1', [], [])).toBeUndefined();
  });

  it('moves a slot home once its home host is back and empty, one per home; none while it is away', () => {
    const placed = [
      { slot: 'r1', host: 'a' },
      { slot: 'r2', host: 'a' },
      { slot: 'r3', host: 'c' },
    ];
    expect(movesHome(down(hosts('a', 'b', 'c'), 'b'), placed)).toEqual([]);
    expect(movesHome(hosts('a', 'b', 'c'), placed)).toEqual([{ slot: 'r2', host: 'b' }]);
    // Home already holds its own slot: nothing to move.
    expect(movesHome(hosts('a', 'b', 'c'), [...placed, { slot: 'r2', host: 'b' }].slice(1))).toEqual([]);
  });

  it('a warm spare at home does not count as serving there, and a spare is never moved', () => {
    // r4 (home a) serves on c since a was lost; a came back holding r1 as the warm spare.
    const placed = [
      { slot: 'r1', host: 'a' },
      { slot: 'r2', host: 'b' },
      { slot: 'r3', host: 'c' },
      { slot: 'r4', host: 'c' },
    ];
    const spare = (s: string) => (slot: string) => slot === s;
    expect(movesHome(hosts('a', 'b', 'c'), placed, spare('r1'))).toEqual([{ slot: 'r4', host: 'a' }]);
    // Once r1 serves and r4 is the spare (on c, say): nothing moves.
    expect(movesHome(hosts('a', 'b', 'c'), placed, spare('r4'))).toEqual([]);
  });
});
