import { describe, expect, it } from 'vitest';
import { SilentReplicas } from '../../src/client/silent-replicas.js';

const members = ['a:1', 'b:2', 'c:3'].map((address, i) => ({ id: `r${i + 1}`, address }));
const ids = (list: { id: string }[]) => list.map((m) => m.id);

describe('the replicas a client found silent', () => {
  it('a replica that timed out goes after the others for the window, in view order; an answer or a new view forgets it', () => {
    const silent = new SilentReplicas();
    expect(ids(silent.last(members, 10_000, 0))).toEqual(['r1', 'r2', 'r3']);
    silent.timedOut('a:1', 1_000);
    silent.timedOut('b:2', 2_000);
    expect(ids(silent.last(members, 10_000, 5_000))).toEqual(['r3', 'r1', 'r2']);
    // The window runs from each one's last timeout.
    expect(ids(silent.last(members, 10_000, 11_500))).toEqual(['r1', 'r3', 'r2']);
    expect(ids(silent.last(members, 10_000, 12_000))).toEqual(['r1', 'r2', 'r3']);
    silent.answered('b:2');
    expect(ids(silent.last(members, 10_000, 5_000))).toEqual(['r2', 'r3', 'r1']);
    silent.forget();
    expect(ids(silent.last(members, 10_000, 5_000))).toEqual(['r1', 'r2', 'r3']);
  });
});
