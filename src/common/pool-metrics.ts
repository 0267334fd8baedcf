import type { Pool } from './database.js';
import { gauge } from './registered-metrics.js';

const pools = new Map<string, Pool>();

/** Read from the pools when scraped: nothing to keep up to date on the hot path. */
gauge({
  name: 'hedge_db_pool_connections',
  help: 'Database connections of a pool: total open, idle, and callers waiting for one',
  labelNames: ['pool', 'state'],
  collect() {
    for (const [name, pool] of pools) {
      this.set({ pool: name, state: 'total' }, pool.totalCount);
      this.set({ pool: name, state: 'idle' }, pool.idleCount);
      this.set({ pool: name, state: 'waiting' }, pool.waitingCount);
    }
  },
});

/** Reports `pool` under `name` until the returned function is called. */
export function reportPool(name: string, pool: Pool): () => void {
  pools.set(name, pool);
  return () => {
    if (pools.get(name) === pool) pools.delete(name);
  };
}
