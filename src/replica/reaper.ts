import type { Pool } from '../common/database.js';
import type { Logger } from '../common/logger.js';

const REAPER_LOCK = 4_681_215_002;
const BATCH = 5_000;

/**
 * Deletes request-log entries (and sessions) older than the retention window, in
 * small batches so no long transaction holds locks. Every replica runs it; a
 * session-level advisory lock lets one of them work at a time.
 */
export function startReaper(
  pool: Pool,
  retentionMs: number,
  intervalMs: number,
  log: Logger,
): { stop(): void } {
  let running = false;
  const reap = async () => {
    if (running) return;
    running = true;
    const client = await pool.connect().catch(() => undefined);
    if (!client) {
      running = false;
      return;
    }
    try {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
        REAPER_LOCK,
      ]);
      if (!rows[0]?.locked) return;
      try {
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
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [REAPER_LOCK]);
      }
    } catch (err) {
      log.warn({ err }, 'reaping the request log failed; will retry');
    } finally {
      client.release();
      running = false;
    }
  };
  const timer = setInterval(reap, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
