import type { Command } from 'commander';
import { intOption } from './cli-options.js';
import type { Logger } from './logger.js';
import type { MetricsEndpoint, MetricsTarget } from './metrics.js';
import { resolveSetting, type Setting, settingOption } from './settings.js';

/**
 * --metrics-port: off unless given. HEDGE_METRICS_PORT gives it to a group of
 * processes at once (`hedge up` sets 0 for the feed and the manager, whose
 * replicas inherit it), so 0, any free port, is the value that makes sense there.
 */
export const METRICS_PORT: Setting<number> = {
  flag: '--metrics-port <port>',
  description: 'serve Prometheus metrics at http://<metrics-host>:<port>/metrics (0 picks a free port)',
  parse: intOption(0, 65535),
  env: 'HEDGE_METRICS_PORT',
  otherwise: 'off',
};

export const METRICS_HOST: Setting<string> = {
  flag: '--metrics-host <host>',
  description: 'address the metrics endpoint listens on (loopback unless you mean it)',
  parse: String,
  env: 'HEDGE_METRICS_HOST',
  default: '127.0.0.1',
};

/** Adds --metrics-port and --metrics-host to a command. */
export function withMetricsOptions(command: Command): Command {
  return command.addOption(settingOption(METRICS_PORT)).addOption(settingOption(METRICS_HOST));
}

/** The endpoint --metrics-port (or $HEDGE_METRICS_PORT) asks for, or none. */
export async function serveMetricsIfAsked(
  opts: { metricsPort?: number; metricsHost?: string },
  log: Logger | undefined,
  target?: MetricsTarget,
): Promise<MetricsEndpoint | undefined> {
  const port = await resolveSetting(METRICS_PORT, opts.metricsPort);
  if (port === undefined) return undefined;
  const host = (await resolveSetting(METRICS_HOST, opts.metricsHost)) ?? '127.0.0.1';
  const { serveMetrics } = await import('./metrics.js');
  return serveMetrics(host, port, log, target);
}
