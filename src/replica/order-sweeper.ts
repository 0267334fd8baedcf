import type { Logger } from '../common/logger.js';
import { inBatches, type PeriodicJob } from './periodic-job.js';

const BATCH = 500;

/**
 * Releases what expired pending orders reserved, for users nobody touches (a
 * user's own next command releases theirs too).
 */
export function orderSweeperJob(replicaId: string, log: Logger): PeriodicJob {
  return {
    lock: 'orderSweeper',
    run: async (client) => {
      await inBatches(BATCH, async () => {
        const { rows } = await client.query<{ n: number }>('SELECT sweep_expired_orders($1, $2) AS n', [
          replicaId,
          BATCH,
        ]);
        const released = rows[0]?.n ?? 0;
        if (released > 0) log.info({ released }, 'released expired pending orders');
        return released;
      });
    },
  };
}
