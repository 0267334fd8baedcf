import { ADVISORY_LOCKS } from '../common/advisory-locks.js';
import type { Pool, PoolClient } from '../common/database.js';
import type { Logger } from '../common/logger.js';

export interface PeriodicJob {
  /** The job's advisory lock, and its name in the log: every replica runs the job, one at a time. */
  lock: Exclude<keyof typeof ADVISORY_LOCKS, 'migration'>;
  run(client: PoolClient): Promise<void>;
}

/** Runs `step` until it handles fewer than `size` rows (the backlog is done); returns the total. */
export async function inBatches(size: number, step: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await step();
    total += n;
    if (n < size) return total;
  }
}

/** Runs `job` every `intervalMs` on one connection, under a session advisory lock, never overlapping itself. */
export function startPeriodicJob(
  pool: Pool,
  job: PeriodicJob,
  intervalMs: number,
  log: Logger,
): { stop(): void } {
  const lock = ADVISORY_LOCKS[job.lock];
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    const client = await pool.connect().catch(() => undefined);
    if (!client) {
      running = false;
      return;
    }
    try {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
        lock,
      ]);
      if (!rows[0]?.locked) return;
      try {
        await job.run(client);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [lock]);
      }
    } catch (err) {
      log.warn({ err, job: job.lock }, 'a periodic job failed; it runs again next interval');
    } finally {
      client.release();
      running = false;
    }
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
