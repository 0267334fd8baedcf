import { rmSync } from 'node:fs';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exited, spawnHedge } from '../src/common/hedge-process.js';
import { makeTempDataDir } from '../src/common/paths.js';
import { hedgeProto } from '../src/common/proto.js';
import { deadlineAfter, invoke } from '../src/common/rpc.js';
import type { SignedQuote__Output } from '../src/gen/hedge/v1/SignedQuote.js';
import { descendantsOf, waitUntilGone } from './support/processes.js';
import { Trader, tradingClient } from './support/trader.js';

describe('hedge up', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = makeTempDataDir('hedge-up-');
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  async function startUp() {
    const up = spawnHedge(['up', '--data-dir', dataDir, '--feed-port', '0', '--replica-port', '0'], {
      output: 'ignore',
      env: { DATABASE_URL: '' },
    });
    const ready = await up.ready;
    const pid = up.child.pid ?? 0;
    return { up, ready, pid, processes: descendantsOf(pid) };
  }

  it('serves trades, and SIGTERM stops every process it started', async () => {
    const { up, ready, processes } = await startUp();
    // db + PostgreSQL (postmaster and its workers) + feed + replica
    expect(processes.length).toBeGreaterThanOrEqual(5);

    const feed = new (hedgeProto().StockFeed)(String(ready.feedAddress), credentials.createInsecure());
    const quote = await invoke<SignedQuote__Output>((cb) =>
      feed.GetQuote({ symbol: 'ABC' }, { deadline: deadlineAfter(5_000) }, cb),
    );
    const trader = await Trader.open(tradingClient(String(ready.replicaAddress)));
    await trader.deposit('1000.00');
    expect((await trader.buy('ABC', 1, quote)).trade?.symbol).toBe('ABC');
    trader.client.close();
    feed.close();

    up.child.kill('SIGTERM');
    await exited(up.child);
    expect(up.child.exitCode).toBe(0);
    expect(await waitUntilGone(processes)).toEqual([]);
  });

  it('SIGKILL of hedge up still leaves no process behind', async () => {
    const { up, processes } = await startUp();
    expect(processes.length).toBeGreaterThanOrEqual(5);
    up.child.kill('SIGKILL');
    await exited(up.child);
    expect(await waitUntilGone(processes)).toEqual([]);
  });
});
