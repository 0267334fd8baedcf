import type { Pool, PoolClient } from '../common/database.js';

/**
 * Opens every connection of the pool at once and makes one round trip on each,
 * before the replica reports ready: a warm spare that joins the view serves its
 * first calls without a connection set-up (TCP, authentication, session start)
 * in their path. The pool keeps them (its `min`), so they stay open while the
 * spare waits out of the view.
 */
export async function warmUp(pool: Pool, connections: number): Promise<void> {
  const opened = await Promise.allSettled(Array.from({ length: connections }, () => pool.connect()));
  const clients = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  try {
    const failed = opened.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
    await Promise.all(clients.map((c: PoolClient) => c.query('SELECT 1')));
  } finally {
    for (const c of clients) c.release();
  }
}
