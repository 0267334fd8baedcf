import { describe, expect, it } from 'vitest';
import { hearsMajority, silenceCounts } from '../../src/replication-manager/host-quorum.js';

const NOW = 1_000_000;
/** Hosts by name, each heard (its agent ticked 100 ms ago) or not (silent for 5 s). */
const hostsOf = (heard: Record<string, boolean>) =>
  Object.entries(heard).map(([name, on]) => ({ name, lastHeardMs: NOW - (on ? 100 : 5_000) }));

describe('a replica’s silence as evidence (host-quorum)', () => {
  it('three hosts, the manager beside h1 and partitioned with it (hears only h1): h1’s replicas are judged, h2’s and h3’s are not', () => {
    const hosts = hostsOf({ h1: true, h2: false, h3: false });
    expect(silenceCounts('h1', hosts, NOW)).toBe(true);
    expect(silenceCounts('h2', hosts, NOW)).toBe(false);
    expect(silenceCounts('h3', hosts, NOW)).toBe(false);
  });

  it('three hosts, one lost (the manager hears the other two): the lost host’s replicas are judged, and so are the others', () => {
    const hosts = hostsOf({ h1: true, h2: false, h3: true });
    for (const host of ['h1', 'h2', 'h3']) expect(silenceCounts(host, hosts, NOW)).toBe(true);
  });

  it('the manager hears no host at all: no replica on a silent host is judged', () => {
    const hosts = hostsOf({ h1: false, h2: false, h3: false });
    for (const host of ['h1', 'h2', 'h3']) expect(silenceCounts(host, hosts, NOW)).toBe(false);
  });

  it('two hosts, one lost: one of two is no strict majority, so the lost host’s replicas are not judged; the heard host’s are', () => {
    const hosts = hostsOf({ h1: true, h2: false });
    expect(silenceCounts('h1', hosts, NOW)).toBe(true);
    expect(silenceCounts('h2', hosts, NOW)).toBe(false);
  });

  it('every host heard, or a process on no known host (its agent reported it gone): judged', () => {
    expect(silenceCounts('h2', hostsOf({ h1: true, h2: true, h3: true }), NOW)).toBe(true);
    expect(silenceCounts(undefined, hostsOf({ h1: false, h2: false, h3: false }), NOW)).toBe(true);
    expect(silenceCounts('gone-host', hostsOf({ h1: false, h2: false }), NOW)).toBe(true);
  });

  it('a host silent for less than the 1 s that makes it out of reach still counts as heard for its own replicas', () => {
    const hosts = [
      { name: 'h1', lastHeardMs: NOW - 100 },
      { name: 'h2', lastHeardMs: NOW - 900 },
      { name: 'h3', lastHeardMs: NOW - 5_000 },
    ];
    expect(silenceCounts('h2', hosts, NOW)).toBe(true);
    expect(silenceCounts('h3', hosts, NOW)).toBe(false);
  });

  it('the majority counts only hosts heard within 750 ms, never the host in question', () => {
    const fresh = [
      { name: 'h1', lastHeardMs: NOW - 700 },
      { name: 'h2', lastHeardMs: NOW - 700 },
      { name: 'h3', lastHeardMs: NOW - 5_000 },
    ];
    expect(hearsMajority(fresh, NOW, 'h3')).toBe(true);
    expect(hearsMajority(fresh, NOW, 'h1')).toBe(false);
    const stale = fresh.map((h) => (h.name === 'h2' ? { ...h, lastHeardMs: NOW - 800 } : h));
    expect(hearsMajority(stale, NOW, 'h3')).toBe(false);
    // Five hosts: three heard is a majority, two is not.
    const five = hostsOf({ a: true, b: true, c: true, d: false, e: false });
    expect(silenceCounts('d', five, NOW)).toBe(true);
    expect(silenceCounts('d', hostsOf({ a: true, b: true, c: false, d: false, e: false }), NOW)).toBe(false);
  });
});
