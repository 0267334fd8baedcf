import { describe, expect, it } from 'vitest';
import { FaultInjector, type Injection } from '../../src/fault-injector/injector.js';
import { serving, useCluster } from '../support/cluster.js';

describe('injections due at one moment', () => {
  // No warm spare: a spare would be in the view again before the second injection is judged.
  const c = useCluster(['--spares', '0']);

  it('run one at a time: with a minimum of 2 of 3 serving, two crashes at once make one', async () => {
    const lines: Injection[] = [];
    const injector = new FaultInjector(
      {
        manager: c.managerAddress,
        kinds: ['crash'],
        atMs: [0, 0],
        seed: 1,
        minimum: 2,
        hangMs: 500,
        slowDelayMs: 0,
        slowDurationMs: 0,
      },
      (i) => lines.push(i),
    );
    injector.start();
    await injector.finished;
    expect(lines.map((l) => l.outcome)).toEqual(['injected', 'skipped']);
    expect(lines[1]?.detail).toBe('only 2 serving; the minimum is 2');
    // The manager replaces the one crash; two were never gone at once.
    await c.waitFor('the crashed replica replaced', (s) => serving(s).length === 3);
  });
});
