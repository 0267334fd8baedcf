import { Counter, Gauge, type GaugeConfiguration, Histogram } from 'prom-client';
import { metricsRegistry } from './metrics.js';

/*
 * The metric kinds hedge uses, each made in the process's one registry
 * (metrics.ts), which `/metrics` serves: a metric is declared by what it
 * measures alone.
 */

export function counter<T extends string = string>(
  name: string,
  help: string,
  labelNames: readonly T[] = [],
): Counter<T> {
  return new Counter({ name, help, labelNames, registers: [metricsRegistry] });
}

export function histogram<T extends string>(
  name: string,
  help: string,
  labelNames: readonly T[],
  buckets: number[],
): Histogram<T> {
  return new Histogram({ name, help, labelNames, buckets, registers: [metricsRegistry] });
}

/** A gauge read when scraped: `collect` sets it from the process's own state. */
export function gauge<T extends string = string>(config: Omit<GaugeConfiguration<T>, 'registers'>): Gauge<T> {
  return new Gauge({ ...config, registers: [metricsRegistry] });
}
