import type { Pool } from '../common/database.js';
import type { Logger } from '../common/logger.js';
import { startPeriodicJob } from './periodic-job.js';

const REAPER_LOCK = 4_681_215_002;
const BATCH = 5_000;

/**
 * Deletes request-log entries (and sessions) older than the retention window, in
 * small batches so no long transaction holds locks.
 */
export function startReaper(
  pool: Pool,
  retentionMs: number,
  intervalMs: number,
  log: Logger,
): { stop(): void } {
  return startPeriodicJob(
    pool,
    {
      name: 'reaper',
      lock: REAPER_LOCK,
      intervalMs,
      run: async (client) => {
        const cutoff = `${retentionMs} milliseconds`;
        let requests = 0;
        for (;;) {
          const r = await client.query(
            `DELETE FROM request_log WHERE request_id IN (
               SELECT request_id FROM request_log WHERE created_at < now() - $1::interval LIMIT ${BATCH})`,
            [cutoff],
          );
          requests += r.rowCount ?? 0;
          if ((r.rowCount ?? 0) < BATCH) break;
        }
        const sessions = await client.query('DELETE FROM sessions WHERE expires_at < now() - $1::interval', [
          cutoff,
        ]);
        if (requests > 0 || (sessions.rowCount ?? 0) > 0) {
          log.info({ requests, sessions: sessions.rowCount }, 'reaped entries past the retention window');
        }
      },
    },
    log,
  );
}
