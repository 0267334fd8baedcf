import type { Pool, PoolClient } from '../common/database.js';
import type { Logger } from '../common/logger.js';

export interface PeriodicJob {
  name: string;
  /** An advisory lock key: every replica runs the job, one at a time. */
  lock: number;
  intervalMs: number;
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

/** Runs `job` every interval on one connection, under a session advisory lock, never overlapping itself. */
export function startPeriodicJob(pool: Pool, job: PeriodicJob, log: Logger): { stop(): void } {
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
        job.lock,
      ]);
      if (!rows[0]?.locked) return;
      try {
        await job.run(client);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [job.lock]);
      }
    } catch (err) {
      log.warn({ err, job: job.name }, 'a periodic job failed; it runs again next interval');
    } finally {
      client.release();
      running = false;
    }
  };
  const timer = setInterval(tick, job.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
