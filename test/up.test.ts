import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuoteSource } from '../src/client/quote-source.js';
import { ReplicatedClient } from '../src/client/replicated-client.js';
import { TradingSession } from '../src/client/trading-session.js';
import { exited, spawnHedge } from '../src/common/hedge-process.js';
import { makeTempDataDir } from '../src/common/paths.js';
import { descendantsOf, waitUntilGone } from './support/processes.js';

describe('hedge up', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = makeTempDataDir('hedge-up-');
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  async function startUp() {
    const up = spawnHedge(['up', '--data-dir', dataDir, '--feed-port', '0', '--manager-port', '0'], {
      output: 'ignore',
      env: { DATABASE_URL: '' },
    });
    const ready = await up.ready;
    const pid = up.child.pid ?? 0;
    return { up, ready, pid };
  }

  it('runs the replicated system, and SIGTERM stops every process it started', async () => {
    const { up, ready, pid } = await startUp();
    const client = await ReplicatedClient.connect({ manager: String(ready.managerAddress), mode: 'active' });
    const quotes = new QuoteSource(String(ready.feedAddress));
    try {
      expect(client.currentView.members.map((m) => m.id)).toEqual(['r1', 'r2', 'r3']);
      const session = new TradingSession(client);
      await session.register('up_user', 'up password');
      await session.deposit('1000.00');
      const { response, telemetry } = await session.buy('ABC', 1, await quotes.get('ABC'));
      expect(response.trade?.symbol).toBe('ABC');
      expect(telemetry.attempts).toBe(3);
    } finally {
      quotes.close();
      client.close();
    }
    // db + PostgreSQL (postmaster and workers) + feed + manager + three replicas
    const processes = descendantsOf(pid);
    expect(processes.length).toBeGreaterThanOrEqual(10);

    up.child.kill('SIGTERM');
    await exited(up.child);
    expect(up.child.exitCode).toBe(0);
    expect(await waitUntilGone(processes)).toEqual([]);
  });

  it('SIGKILL of hedge up still leaves no process behind', async () => {
    const { up, pid } = await startUp();
    const processes = descendantsOf(pid);
    expect(processes.length).toBeGreaterThanOrEqual(10);
    up.child.kill('SIGKILL');
    await exited(up.child);
    expect(await waitUntilGone(processes)).toEqual([]);
  });
});
