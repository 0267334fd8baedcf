import { Counter, Gauge } from 'prom-client';
import { metricsRegistry } from '../common/metrics.js';

const ticks = new Counter({
  name: 'hedge_feed_ticks_total',
  help: 'Price ticks the feed made (each signs new quotes and pushes them to every stream)',
  registers: [metricsRegistry],
});

let lastTickMs: number | undefined;

new Gauge({
  name: 'hedge_feed_last_tick_timestamp_seconds',
  help: 'When the feed last ticked (Unix time): time() minus this is how stale its prices are',
  registers: [metricsRegistry],
  collect() {
    if (lastTickMs !== undefined) this.set(lastTickMs / 1000);
  },
});

new Gauge({
  name: 'hedge_feed_quote_age_seconds',
  help: 'Age of the newest prices at scrape time: a feed that stopped ticking shows it growing',
  registers: [metricsRegistry],
  collect() {
    if (lastTickMs !== undefined) this.set((Date.now() - lastTickMs) / 1000);
  },
});

export function countTick(): void {
  ticks.inc();
  lastTickMs = Date.now();
}
