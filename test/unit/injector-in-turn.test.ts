import { describe, expect, it } from 'vitest';
import { FaultInjector, type FaultKind, type Injection } from '../../src/fault-injector/injector.js';
import { serving, useCluster } from '../support/cluster.js';

describe('injections due at one moment', () => {
  // No warm spare: a spare would be in the view again before the second injection is judged.
  const c = useCluster(['--spares', '0']);

  /** Runs an injector with these kinds at these offsets to its end; its lines. */
  async function injectAll(kinds: FaultKind[], atMs: number[], minimum?: number): Promise<Injection[]> {
    const lines: Injection[] = [];
    const injector = new FaultInjector(
      {
        manager: c.managerAddress,
        kinds,
        atMs,
        seed: 1,
        minimum,
        hangMs: 500,
        slowDelayMs: 0,
        slowDurationMs: 0,
      },
      (i) => lines.push(i),
    );
    injector.start();
    await injector.finished;
    return lines;
  }

  it('run one at a time: with a minimum of 2 of 3 serving, two crashes at once make one', async () => {
    const lines = await injectAll(['crash'], [0, 0], 2);
    expect(lines.map((l) => l.outcome)).toEqual(['injected', 'skipped']);
    expect(lines[1]?.detail).toBe('only 2 serving; the minimum is 2');
    // The manager replaces the one crash; two were never gone at once.
    await c.waitFor('the crashed replica replaced', (s) => serving(s).length === 3);
  });

  it('a host fault on a manager without hosts (no agents) is skipped with the reason, and touches nothing', async () => {
    const before = (await c.status()).replicas.map((r) => r.pid);
    const lines = await injectAll(['partition', 'host-crash', 'delay'], [0]);
    expect(lines.map((l) => [l.outcome, l.detail])).toEqual([
      ['skipped', 'the manager has no hosts (it runs without agents)'],
    ]);
    expect((await c.status()).replicas.map((r) => r.pid)).toEqual(before);
  });
});
