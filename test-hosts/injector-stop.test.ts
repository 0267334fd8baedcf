import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FaultInjector, type Injection } from '../src/fault-injector/injector.js';
import { type MultiHost, REPLICA_HOSTS, startMultiHost } from './support/multi-host.js';

let c: MultiHost | undefined;
beforeAll(async () => {
  c = await startMultiHost(['--spares', '0']);
  await c.waitFor(
    'three serving',
    (s) => s.replicas.filter((r) => r.state === 'REPLICA_STATE_SERVING').length === 3,
  );
}, 120_000);
afterAll(async () => {
  await c?.stop();
});

/** The hosts where a delay proxy runs (its process in the host's namespace). */
function delayedHosts(cluster: MultiHost): string[] {
  return REPLICA_HOSTS.filter((host) =>
    cluster.network.pids(cluster.network.host(host)).some((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('host-delay-process');
      } catch {
        return false;
      }
    }),
  );
}

it('stopped (Ctrl-C) while a delay is being armed, the injector finishes only after it: the injection has its line, and the delay is healed at once', async () => {
  const cluster = c as MultiHost;
  const lines: Injection[] = [];
  const injector = new FaultInjector(
    {
      manager: cluster.managerAddress,
      kinds: ['delay'],
      atMs: [0],
      seed: 3,
      hangMs: 0,
      hostDownMs: 10 * 60_000,
      hostDelayMs: 100,
      slowDelayMs: 0,
      slowDurationMs: 0,
    },
    (i) => lines.push(i),
  );
  injector.start();
  // The delay's proxy has started on a host: the injection is arming it (it waits for the
  // proxy's "ready", after its rules and the reset of the host's connections).
  const armingBy = Date.now() + 60_000;
  while (delayedHosts(cluster).length === 0) {
    if (Date.now() > armingBy) throw new Error('no delay proxy started in 60 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  expect(lines).toEqual([]);
  injector.stop(true);
  await injector.finished;
  expect(lines.map((l) => [l.kind, l.outcome])).toEqual([['delay', 'injected']]);
  // Healed at once, not in ten minutes: no proxy is left, and no rule.
  expect(delayedHosts(cluster)).toEqual([]);
  for (const host of REPLICA_HOSTS) {
    const tables = execFileSync(
      'ip',
      ['netns', 'exec', cluster.network.host(host).namespace, 'nft', 'list', 'tables'],
      {
        encoding: 'utf8',
      },
    );
    expect(tables).not.toContain('hedge_delay');
  }
});
