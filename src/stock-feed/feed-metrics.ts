import { counter, gauge } from '../common/registered-metrics.js';

const ticks = counter(
  'hedge_feed_ticks_total',
  'Price ticks the feed made (each signs new quotes and pushes them to every stream)',
);

let lastTickMs: number | undefined;

gauge({
  name: 'hedge_feed_last_tick_timestamp_seconds',
  help: 'When the feed last ticked (Unix time): time() minus this is how stale its prices are',
  collect() {
    if (lastTickMs !== undefined) this.set(lastTickMs / 1000);
  },
});

gauge({
  name: 'hedge_feed_quote_age_seconds',
  help: 'Age of the newest prices at scrape time: a feed that stopped ticking shows it growing',
  collect() {
    if (lastTickMs !== undefined) this.set((Date.now() - lastTickMs) / 1000);
  },
});

export function countTick(): void {
  ticks.inc();
  lastTickMs = Date.now();
}
