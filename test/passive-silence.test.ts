import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ReplicatedClient } from '../src/client/replicated-client.js';
import { uuidv7 } from '../src/common/ids.js';
import { hedgeProto } from '../src/common/proto.js';
import type { TradeRequest } from '../src/gen/hedge/v1/TradeRequest.js';
import type { TradeResponse__Output } from '../src/gen/hedge/v1/TradeResponse.js';
import { useTestDatabase } from './support/database.js';
import { useTestFeed } from './support/feed.js';
import { useTradingReplicas } from './support/trading-replicas.js';

const BUY = hedgeProto().Trading.service.Buy;

describe('passive client: a silent first replica costs one attempt timeout, not one per call', () => {
  const db = useTestDatabase();
  const feed = useTestFeed();
  // The trader on the second replica: the first is the one the test stops.
  const system = useTradingReplicas(
    'silence',
    () => ({ databaseUrl: db.url, feedPublicKeyPath: feed.publicKeyPath }),
    1,
  );

  it('the first replica SIGSTOPped: the first buy fails over after its timeout, the next ones go to an answering replica at once, and every buy has exactly one effect', async () => {
    // A fixed view (no manager to drop the stopped replica): only the client's memory avoids it.
    const client = await ReplicatedClient.connect({
      mode: 'passive',
      replicas: system.replicas.map((r) => ({ id: r.id, address: r.address })),
      deadlineMs: 30_000,
    });
    const [stopped] = system.replicas;
    try {
      stopped?.child.kill('SIGSTOP');
      const ids: string[] = [];
      const telemetry = [];
      for (let i = 0; i < 8; i++) {
        const request: TradeRequest = {
          request_id: uuidv7(),
          symbol: 'ABC',
          shares: 1,
          quote: await feed.quote('ABC'),
        };
        ids.push(request.request_id ?? '');
        const result = await client.call<TradeResponse__Output>(BUY, request, system.trader.metadata);
        expect(result.response.trade?.shares).toBe('1');
        telemetry.push(result.telemetry);
      }
      expect(telemetry[0]?.failures[0]).toMatchObject({
        replica: stopped?.id,
        code: status.DEADLINE_EXCEEDED,
      });
      for (const t of telemetry) expect(t.answeredBy).not.toBe(stopped?.id);
      // No later call asked the stopped replica first (it is tried last, and the others answer).
      for (const t of telemetry.slice(1))
        expect(t.failures.filter((f) => f.replica === stopped?.id)).toEqual([]);
      // The failed-over buy kept its request id: one trade and one stored answer for each.
      const { rows } = await db.pool.query<{ request_id: string; trades: number; logged: number }>(
        `SELECT r.id AS request_id,
                (SELECT count(*)::int FROM trades t WHERE t.request_id = r.id) AS trades,
                (SELECT count(*)::int FROM request_log l WHERE l.request_id = r.id) AS logged
           FROM unnest($1::uuid[]) AS r(id)`,
        [ids],
      );
      expect(rows.map((r) => [r.trades, r.logged])).toEqual(ids.map(() => [1, 1]));
    } finally {
      stopped?.child.kill('SIGCONT');
      client.close();
    }
  });
});
