import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHealth, healthClient } from '../src/common/health.js';
import { exited } from '../src/common/hedge-process.js';
import { useTestDatabase } from './support/database.js';
import { useTestFeed } from './support/feed.js';
import { listServices } from './support/reflection.js';
import { type ReplicaProcess, spawnReplica } from './support/replicas.js';
import { failureOf, Trader, tradingClient } from './support/trader.js';

describe('a replica process', () => {
  const db = useTestDatabase();
  const feed = useTestFeed();
  let replica: ReplicaProcess;

  beforeAll(async () => {
    replica = await spawnReplica({ databaseUrl: db.url, feedPublicKeyPath: feed.publicKeyPath }, 'graceful');
  });

  afterAll(async () => {
    await replica?.stop();
  });

  it('serves grpc.health.v1 and reflection of its services', async () => {
    const health = healthClient(replica.address);
    expect(await checkHealth(health, 5_000)).toBe('SERVING');
    expect(await checkHealth(health, 5_000, 'hedge.v1.Trading')).toBe('SERVING');
    health.close();
    expect(await listServices(replica.address)).toEqual([
      'grpc.health.v1.Health',
      'hedge.v1.DayTrading',
      'hedge.v1.ReplicaAdmin',
      'hedge.v1.Trading',
    ]);
  });

  it('on SIGTERM takes no new calls, finishes the one in flight, and exits cleanly', async () => {
    const trader = await Trader.open(tradingClient(replica.address));
    await trader.deposit('100.00');
    const userId = (await db.pool.query('SELECT id FROM users WHERE username = $1', [trader.username]))
      .rows[0].id;
    const holder = await db.pool.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT * FROM accounts WHERE user_id = $1 FOR UPDATE', [userId]);
    const inFlight = trader.buy('ABC', 2, await feed.quote('ABC'));
    const deadline = Date.now() + 10_000;
    while (
      (
        await db.pool.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'hedge-replica-graceful' AND wait_event_type = 'Lock'",
        )
      ).rows[0].n === 0
    ) {
      if (Date.now() > deadline) throw new Error('the buy never reached the database');
      await new Promise((r) => setTimeout(r, 20));
    }

    replica.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const late = await failureOf(trader.portfolio());
    expect(late.code).toBe(status.UNAVAILABLE);

    await holder.query('COMMIT');
    holder.release();
    expect((await inFlight).trade?.shares).toBe('2');
    await exited(replica.child);
    expect(replica.child.exitCode).toBe(0);
    trader.client.close();
  });
});
