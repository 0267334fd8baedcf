import type { Logger } from '../common/logger.js';
import { inBatches, type PeriodicJob } from './periodic-job.js';
import { DEFAULT_SIGN_IN_LIMITS } from './sign-in-throttle.js';

const BATCH = 5_000;

/**
 * Deletes request-log entries (and sessions) older than the retention window, in
 * small batches so no long transaction holds locks.
 */
export function reaperJob(retentionMs: number, log: Logger): PeriodicJob {
  return {
    lock: 'reaper',
    run: async (client) => {
      const cutoff = `${retentionMs} milliseconds`;
      const requests = await inBatches(BATCH, async () => {
        const r = await client.query(
          `DELETE FROM request_log WHERE request_id IN (
               SELECT request_id FROM request_log WHERE created_at < now() - $1::interval LIMIT ${BATCH})`,
          [cutoff],
        );
        return r.rowCount ?? 0;
      });
      const sessions = await client.query('DELETE FROM sessions WHERE expires_at < now() - $1::interval', [
        cutoff,
      ]);
      // A sign-in throttle key past its wait and its forget window counts as no key (sql/sign_in_throttle.sql).
      await client.query(
        `DELETE FROM sign_in_throttle WHERE blocked_until < now() AND last_failure_at < now() - $1::interval`,
        [`${DEFAULT_SIGN_IN_LIMITS.capMs} milliseconds`],
      );
      if (requests > 0 || (sessions.rowCount ?? 0) > 0) {
        log.info({ requests, sessions: sessions.rowCount }, 'reaped entries past the retention window');
      }
    },
  };
}
