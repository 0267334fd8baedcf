import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import type { ManagerStatus } from '../src/client/manager-client.js';
import { verifyDatabase } from '../src/common/verify-database.js';
import type { Membership__Output } from '../src/gen/hedge/v1/Membership.js';
import { signalFound } from '../test/support/processes.js';
import {
  type InjectRun,
  keepTrading,
  type MultiHost,
  REPLICA_HOSTS,
  sharesByUser,
  startMultiHost,
} from './support/multi-host.js';

/** The delay fault's proxies running in the host's namespace. */
function delayProxies(c: MultiHost, host: string): number[] {
  return c.network.pids(c.network.host(host)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('host-delay-process');
    } catch {
      return false;
    }
  });
}

const nftTables = (c: MultiHost, host: string) =>
  execFileSync('ip', ['netns', 'exec', c.network.host(host).namespace, 'nft', 'list', 'tables'], {
    encoding: 'utf8',
  });

const serving = (s: ManagerStatus) => s.replicas.filter((r) => r.state === 'REPLICA_STATE_SERVING');
const hostOf = (s: ManagerStatus, id: string) => s.replicas.find((r) => r.id === id)?.host;

/** Three serving, one on each replica host. */
const spread = (s: ManagerStatus) =>
  serving(s).length === 3 &&
  new Set(serving(s).map((r) => r.host)).size === 3 &&
  serving(s).every((r) => r.host);

/** No view holds a slot or an address twice. */
function expectNoDoubles(views: Membership__Output[]): void {
  for (const view of views) {
    expect(new Set(view.members.map((m) => m.id)).size).toBe(view.members.length);
    expect(new Set(view.members.map((m) => m.address)).size).toBe(view.members.length);
  }
  const numbers = views.map((v) => BigInt(v.view));
  for (let i = 1; i < numbers.length; i++) expect(numbers[i] ?? 0n).toBeGreaterThan(numbers[i - 1] ?? 0n);
}

async function expectExactlyOnce(
  c: MultiHost,
  result: Awaited<ReturnType<ReturnType<typeof keepTrading>['stop']>>,
) {
  expect(result.failed).toEqual([]);
  expect(result.ok).toBeGreaterThan(0);
  const report = await verifyDatabase(c.db.pool);
  expect(report.violations).toEqual([]);
  expect(report.duplicate_effects).toBe(0);
  const shares = await sharesByUser(c.db);
  for (const [user, count] of result.acknowledged) expect(shares.get(user)).toBe(count);
}

describe('replicas on three hosts (network namespaces), one per host', () => {
  let cluster: MultiHost | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  async function ready(): Promise<{ c: MultiHost; status: ManagerStatus }> {
    const c = await startMultiHost(['--spares', '0']);
    cluster = c;
    const status = await c.waitFor('three serving, one per host', spread);
    expect(status.hosts.map((h) => h.name)).toEqual(REPLICA_HOSTS);
    return { c, status };
  }

  /**
   * A host lost under a stream of active trades, through `hedge inject` (which picks
   * the host): no call fails, the host's replica is replaced on another host, and
   * after `recover` the stale process is killed (the host's agent lists none of it)
   * and never shares a view with its replacement.
   */
  async function hostLost(
    kind: 'partition' | 'host-crash',
    injectArgs: string[],
    recover: (c: MultiHost, host: string, run: InjectRun) => Promise<void>,
  ) {
    const { c, status } = await ready();
    const sessions = await Promise.all(Array.from({ length: 3 }, () => c.session()));
    const trading = keepTrading(sessions, c.quotes);
    while (trading.ok() < 30) await new Promise((r) => setTimeout(r, 50));
    const run = c.inject(['--kinds', kind, '--at', '0s', '--seed', '3', ...injectArgs]);
    const injection = await run.injection;
    expect(injection.outcome).toBe('injected');
    const host = injection.target?.id ?? '';
    expect(REPLICA_HOSTS).toContain(host);
    const victim = status.replicas.find((r) => r.host === host);
    expect(injection.replicas).toEqual([{ id: victim?.id, pid: victim?.pid }]);
    const replaced = await c.waitFor(
      `${host}'s replica replaced on another host`,
      (s) =>
        serving(s).length === 3 &&
        hostOf(s, victim?.id ?? '') !== host &&
        serving(s).every((r) => r.host !== host),
    );
    expect(replaced.hosts.find((h) => h.name === host)?.reachable).toBe(false);
    // Judged by its own silence (direct probes while its agent was silent and the others heard), not by phi seconds later.
    expect(replaced.replicas.find((r) => r.id === victim?.id)?.last_fault).toMatch(
      /its host's agent silent for \d+ ms while the manager hears the other hosts, and \d+ direct probes unanswered in a row$/,
    );
    const okBefore = trading.ok();
    while (trading.ok() < okBefore + 30) await new Promise((r) => setTimeout(r, 50));
    await recover(c, host, run);
    await c.waitFor(
      `${host} reachable again`,
      (s) => s.hosts.find((h) => h.name === host)?.reachable === true,
    );
    // The stale process on the host is killed once it is back: it never serves beside its replacement.
    for (;;) {
      const listed = await c.listOn(host).catch(() => undefined);
      if (listed && !listed.replicas.some((r) => r.pid === victim?.pid)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Moved back home with no spare to move through: a new process on the returned host joins
    // the view as the doubled one drains, and no slot is left over.
    const home = await c.waitFor(
      'one serving replica per host again, and the doubled slot gone once drained',
      (s) => spread(s) && s.replicas.length === 3,
      90_000,
    );
    const okAfter = trading.ok();
    while (trading.ok() < okAfter + 30) await new Promise((r) => setTimeout(r, 50));
    const result = await trading.stop();
    await expectExactlyOnce(c, result);
    expectNoDoubles(c.views);
    const removal = c.views.findIndex((v) => !v.members.some((m) => m.address === victim?.address));
    expect(removal).toBeGreaterThan(0);
    for (const view of c.views.slice(removal))
      expect(view.members.map((m) => m.address)).not.toContain(victim?.address);
    // From the view before the move on, the view never shrank: the mover joined as the doubled one left.
    const mover = home.replicas.find((r) => r.host === host);
    const joined = c.views.findIndex((v) => v.members.some((m) => m.address === mover?.address));
    expect(joined).toBeGreaterThan(removal);
    for (const view of c.views.slice(joined - 1)) expect(view.members).toHaveLength(3);
    expect(serving(await c.status())).toHaveLength(3);
  }

  it("hedge inject partition: no call fails, the host's replica is replaced on another host, and once healed (Ctrl-C heals it) the stale one is killed, never twice in a view, and a replica moves back home", async () => {
    await hostLost('partition', ['--down-for', '10m'], async (_c, _host, run) => {
      // Interrupted, the injector heals the partition before it exits.
      expect(await run.interrupt()).toBe(0);
    });
  });

  it('hedge inject host-crash (every process on the host killed, its link down: silent): no call fails, its replica is replaced on another host; a new agent there lists none of the old, and a replica moves back home', async () => {
    await hostLost('host-crash', [], async (c, host, run) => {
      expect(await run.exited).toBe(0);
      expect(c.network.pids(c.network.host(host))).toEqual([]);
      // The host comes back with a fresh agent on the same address: nothing of the old runs there.
      await c.restartAgent(host);
    });
  });

  it('hedge inject delay: trades go on without a failed call while the peers reconnect to the host through the delaying proxy, no replica is judged faulty (a 400 ms round trip is slow, not dead), and once it ends (or Ctrl-C) no rule or proxy is left', async () => {
    const { c, status: before } = await ready();
    // A round trip of twice this, above the 250 ms a probe of a silent host's replica once had.
    const DELAY_MS = 200;
    const sessions = await Promise.all(Array.from({ length: 3 }, () => c.session()));
    const trading = keepTrading(sessions, c.quotes);
    while (trading.ok() < 30) await new Promise((r) => setTimeout(r, 50));
    const run = c.inject([
      '--kinds',
      'delay',
      '--delay',
      `${DELAY_MS}ms`,
      '--down-for',
      '15s',
      '--at',
      '0s',
      '--seed',
      '3',
    ]);
    const injection = await run.injection;
    expect(injection.outcome).toBe('injected');
    const host = injection.target?.id ?? '';
    expect(REPLICA_HOSTS).toContain(host);
    expect(nftTables(c, host)).toContain('hedge_delay');
    const [proxy] = delayProxies(c, host);
    expect(proxy).toBeGreaterThan(0);
    // The connections to and from the host were reset and came back through the proxy: it holds
    // connections from off the host (clients, the manager) and to the database, which it dials.
    const address = c.network.host(host).address;
    const dbPort = new URL(c.dbUrl).port;
    const reconnectBy = Date.now() + 60_000;
    for (;;) {
      if (Date.now() > reconnectBy)
        throw new Error('the peers did not reconnect through the delay proxy in 60 s');
      const held = execFileSync(
        'ip',
        ['netns', 'exec', c.network.host(host).namespace, 'ss', '-tnpH', 'state', 'established'],
        { encoding: 'utf8' },
      )
        .split('\n')
        .filter((l) => l.includes(`pid=${proxy},`))
        .map((l) => l.trim().split(/\s+/).slice(2, 4));
      const fromOff = held.some(([, peer]) => !peer?.startsWith(`${address}:`));
      const toDatabase = held.some(([, peer]) => peer === `${c.network.gateway}:${dbPort}`);
      if (fromOff && toDatabase) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // A call to the host's agent on a new channel: its TLS handshake and the call pay the delay each
    // way, at least twice (a lower bound only).
    const start = performance.now();
    await c.listOn(host);
    expect(performance.now() - start).toBeGreaterThanOrEqual(2 * DELAY_MS);
    const okDelayed = trading.ok();
    while (trading.ok() < okDelayed + 30) await new Promise((r) => setTimeout(r, 50));
    expect(await run.exited).toBe(0);
    // Slowed, not faulty: every replica, the delayed host's too, is the process it was, never restarted.
    const after = await c.status();
    expect(after.faults).toBe(before.faults);
    expect(serving(after).map((r) => [r.id, r.pid, r.restarts, r.last_fault])).toEqual(
      serving(before).map((r) => [r.id, r.pid, r.restarts, r.last_fault]),
    );
    expect(nftTables(c, host)).not.toContain('hedge_delay');
    expect(delayProxies(c, host)).toEqual([]);
    // Interrupted, the injector ends a delay under way before it exits.
    const again = c.inject(['--kinds', 'delay', '--down-for', '10m', '--at', '0s', '--seed', '3']);
    const second = await again.injection;
    expect(second.outcome).toBe('injected');
    const secondHost = second.target?.id ?? '';
    expect(delayProxies(c, secondHost)).toHaveLength(1);
    expect(await again.interrupt()).toBe(0);
    expect(nftTables(c, secondHost)).not.toContain('hedge_delay');
    expect(delayProxies(c, secondHost)).toEqual([]);
    const okAfter = trading.ok();
    while (trading.ok() < okAfter + 30) await new Promise((r) => setTimeout(r, 50));
    await c.waitFor('three serving, one per host', spread);
    const result = await trading.stop();
    await expectExactlyOnce(c, result);
    expectNoDoubles(c.views);
  });

  it("partition the manager's host: clients keep trading on the last view, no replica is killed, and views continue after healing", async () => {
    const { c, status } = await ready();
    const pids = serving(status).map((r) => r.pid);
    const sessions = await Promise.all(Array.from({ length: 3 }, () => c.session()));
    const trading = keepTrading(sessions, c.quotes);
    while (trading.ok() < 30) await new Promise((r) => setTimeout(r, 50));
    const viewsBefore = c.views.length;
    c.network.partition(c.network.host('m'));
    // Long enough for the manager to have judged every replica faulty, had it judged from its own silence.
    const okCut = trading.ok();
    const until = Date.now() + 15_000;
    while (Date.now() < until || trading.ok() < okCut + 30) await new Promise((r) => setTimeout(r, 100));
    for (const host of REPLICA_HOSTS) {
      const listed = await c.listOn(host);
      expect(listed.replicas.map((r) => r.pid).filter((pid) => pids.includes(pid))).toHaveLength(1);
    }
    c.network.heal(c.network.host('m'));
    const after = await c.waitFor('every host reachable again', (s) => s.hosts.every((h) => h.reachable));
    expect(
      serving(after)
        .map((r) => r.pid)
        .sort(),
    ).toEqual([...pids].sort());
    // The views continue: a replica killed now is replaced under a higher view number.
    const lastView = BigInt(c.views.at(-1)?.view ?? '0');
    const victim = serving(after).find((r) => r.host === 'h2');
    signalFound(victim?.pid, 'SIGKILL');
    await c.waitFor(
      'h2 replica replaced',
      (s) => serving(s).length === 3 && !serving(s).some((r) => r.pid === victim?.pid),
    );
    expect(BigInt(c.views.at(-1)?.view ?? '0')).toBeGreaterThan(lastView);
    expect(c.views.length).toBeGreaterThan(viewsBefore);
    const result = await trading.stop();
    await expectExactlyOnce(c, result);
    expectNoDoubles(c.views);
  });

  it("the manager beside h1's agent (the README's layout), h1 partitioned for 12 s: hearing only h1, it judges no replica on h2 or h3 (same processes before and after, none replaced) but still judges h1's own (stopped there, it is replaced), no call fails, and the views go on after healing", async () => {
    const c = await startMultiHost(['--spares', '0'], { managerOn: 'h1' });
    cluster = c;
    const status = await c.waitFor('three serving, one per host', spread);
    const processes = (s: ManagerStatus) =>
      serving(s)
        .map((r) => `${r.id}:${r.pid}@${r.host}`)
        .sort();
    const elsewhere = serving(status).filter((r) => r.host !== 'h1');
    expect(elsewhere).toHaveLength(2);
    const placed = processes({ ...status, replicas: elsewhere });
    const local = serving(status).find((r) => r.host === 'h1');
    const sessions = await Promise.all(Array.from({ length: 3 }, () => c.session()));
    const trading = keepTrading(sessions, c.quotes);
    while (trading.ok() < 30) await new Promise((r) => setTimeout(r, 50));
    const h1 = c.network.host('h1');
    c.network.partition(h1);
    // The replica beside the manager hangs meanwhile: its agent is heard, so it is still judged.
    await new Promise((r) => setTimeout(r, 2_000));
    signalFound(local?.pid, 'SIGSTOP');
    // Twice the 5-7 s in which phi would have judged h2's and h3's replicas from the manager's own silence.
    const okCut = trading.ok();
    const until = Date.now() + 12_000;
    while (Date.now() < until || trading.ok() < okCut + 30) await new Promise((r) => setTimeout(r, 100));
    c.network.heal(h1);
    const after = await c.waitFor(
      "every host reachable again, three serving, h1's stopped replica replaced there",
      (s) =>
        s.hosts.every((h) => h.reachable) &&
        serving(s).length === 3 &&
        serving(s).some((r) => r.id === local?.id && r.pid !== local?.pid && r.host === 'h1'),
    );
    // Judged and killed by the manager (nothing else kills it; its replacement may have failed to
    // start while h1 had no database, so its last fault need not be the stop).
    expect(after.replicas.find((r) => r.id === local?.id)?.restarts).toBeGreaterThan(0);
    expect((await c.listOn('h1')).replicas.map((r) => r.pid)).not.toContain(local?.pid);
    // Nothing was replaced on h2 or h3: the same processes on the same hosts, never restarted.
    expect(processes({ ...after, replicas: serving(after).filter((r) => r.host !== 'h1') })).toEqual(placed);
    expect(after.replicas).toHaveLength(3);
    expect(after.replicas.filter((r) => r.host !== 'h1').every((r) => r.restarts === 0)).toBe(true);
    // The views go on: a replica killed now is replaced under a higher view number.
    const lastView = BigInt(c.views.at(-1)?.view ?? '0');
    const victim = elsewhere.find((r) => r.host === 'h2');
    signalFound(victim?.pid, 'SIGKILL');
    await c.waitFor(
      'h2 replica replaced',
      (s) => serving(s).length === 3 && !serving(s).some((r) => r.pid === victim?.pid),
    );
    expect(BigInt(c.views.at(-1)?.view ?? '0')).toBeGreaterThan(lastView);
    // h3's replica was never killed, not even by the sweep once h3 was heard again.
    const h3 = elsewhere.find((r) => r.host === 'h3');
    expect((await c.listOn('h3')).replicas.map((r) => r.pid)).toContain(h3?.pid);
    const result = await trading.stop();
    await expectExactlyOnce(c, result);
    expectNoDoubles(c.views);
  });

  it('with a warm spare: once a partitioned host is healed, a replica serves there again (the spare on it joins the view as the doubled one drains), and no call fails', async () => {
    const c = await startMultiHost(['--spares', '1']);
    cluster = c;
    await c.waitFor(
      'three serving and a spare',
      (s) => serving(s).length === 3 && s.replicas.some((r) => r.spare),
    );
    const sessions = await Promise.all(Array.from({ length: 2 }, () => c.session()));
    const trading = keepTrading(sessions, c.quotes);
    while (trading.ok() < 30) await new Promise((r) => setTimeout(r, 50));
    c.network.partition(c.network.host('h1'));
    await c.waitFor(
      'nothing serving on h1, three serving elsewhere',
      (s) => serving(s).length === 3 && serving(s).every((r) => r.host !== 'h1'),
    );
    c.network.heal(c.network.host('h1'));
    const back = await c.waitFor(
      'one serving replica on each host, and a warm spare',
      (s) =>
        serving(s).length === 3 &&
        new Set(serving(s).map((r) => r.host)).size === 3 &&
        s.replicas.some((r) => r.spare),
      90_000,
    );
    expect(serving(back).filter((r) => r.host === 'h1')).toHaveLength(1);
    const result = await trading.stop();
    await expectExactlyOnce(c, result);
    expectNoDoubles(c.views);
  });

  it('a restarted manager adopts the replicas through the agents: the same processes, on the same hosts, and no call fails', async () => {
    const { c, status } = await ready();
    const before = serving(status)
      .map((r) => `${r.id}:${r.pid}@${r.host}`)
      .sort();
    const sessions = await Promise.all(Array.from({ length: 2 }, () => c.session()));
    const trading = keepTrading(sessions, c.quotes);
    while (trading.ok() < 30) await new Promise((r) => setTimeout(r, 50));
    await c.killManager();
    const okKilled = trading.ok();
    while (trading.ok() < okKilled + 30) await new Promise((r) => setTimeout(r, 50));
    await c.restartManager();
    const after = await c.waitFor('three serving again', (s) => serving(s).length === 3);
    expect(
      serving(after)
        .map((r) => `${r.id}:${r.pid}@${r.host}`)
        .sort(),
    ).toEqual(before);
    expect(after.replicas.every((r) => r.restarts === 0)).toBe(true);
    const result = await trading.stop();
    await expectExactlyOnce(c, result);
  });
});
