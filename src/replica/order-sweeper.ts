import type { Pool } from '../common/database.js';
import type { Logger } from '../common/logger.js';
import { startPeriodicJob } from './periodic-job.js';

const SWEEPER_LOCK = 4_681_215_003;
const BATCH = 500;

/**
 * Releases what expired pending orders reserved, for users nobody touches (a
 * user's own next command releases theirs too).
 */
export function startOrderSweeper(
  pool: Pool,
  replicaId: string,
  intervalMs: number,
  log: Logger,
): { stop(): void } {
  return startPeriodicJob(
    pool,
    {
      name: 'order-sweeper',
      lock: SWEEPER_LOCK,
      intervalMs,
      run: async (client) => {
        for (;;) {
          const { rows } = await client.query<{ n: number }>('SELECT sweep_expired_orders($1, $2) AS n', [
            replicaId,
            BATCH,
          ]);
          if ((rows[0]?.n ?? 0) > 0) log.info({ released: rows[0]?.n }, 'released expired pending orders');
          if ((rows[0]?.n ?? 0) < BATCH) break;
        }
      },
    },
    log,
  );
}
