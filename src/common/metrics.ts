import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from './logger.js';
import { metricsTargetsDir } from './metrics-targets.js';

/**
 * The process's one registry: the server's RPCs, the client library's calls, the
 * manager's, feed's and database pool's figures all register here, and
 * `/metrics` serves it. Metrics cost a counter increment whether or not anyone
 * scrapes them; the process figures (CPU, memory, event-loop lag) only start
 * with the server.
 */
export const metricsRegistry = new Registry();

/** Latency buckets, in seconds, of every RPC histogram (server and client alike, so they compare). */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A gRPC status code as a label: its name (OK, UNAVAILABLE, …). */
export function codeLabel(code: number): string {
  return status[code] ?? String(code);
}

/** The process figures are registered once, however many endpoints a process opens. */
let collectingDefaults = false;

/**
 * How often the event-loop lag histogram (nodejs_eventloop_lag_p99_seconds, …)
 * samples the loop. prom-client's default, 10 ms, is a timer firing 100 times a
 * second in every process: about 0.27 % of a core each at rest, more than
 * anything else hedge does idle (decisions, issue 12 idle cost). Once a second,
 * a stall shorter than that shows in the histogram in proportion to its length;
 * nodejs_eventloop_lag_seconds is still measured at every scrape.
 */
const EVENT_LOOP_SAMPLE_MS = 1_000;

export interface MetricsEndpoint {
  /** host:port */
  address: string;
  url: string;
  close(): Promise<void>;
}

export interface MetricsTarget {
  /** <data-dir>: the endpoint is listed in <data-dir>/metrics/<component>-<id>.json while it serves. */
  dataDir: string;
  component: string;
  id: string;
}

/**
 * Serves the registry at /metrics on host:port (port 0: a free one). With a
 * target, the endpoint is also written to <data-dir>/metrics/ as a Prometheus
 * file_sd file (`file_sd_configs: [{ files: ['<data-dir>/metrics/*.json'] }]`),
 * so replicas the manager replaces on new ports are found without asking anyone;
 * the file goes when the endpoint closes (a killed process leaves it, and
 * Prometheus shows that target down until its replacement overwrites it).
 */
export async function serveMetrics(
  host: string,
  port: number,
  log: Logger | undefined,
  target?: MetricsTarget,
): Promise<MetricsEndpoint> {
  if (!collectingDefaults) {
    collectDefaultMetrics({ register: metricsRegistry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    collectingDefaults = true;
  }
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    metricsRegistry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metricsRegistry.contentType }).end(text),
      (err: unknown) => {
        log?.error({ err }, 'metrics collection failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const address = `${host.includes(':') ? `[${host}]` : host}:${bound}`;
  let file: string | undefined;
  if (target) {
    const dir = metricsTargetsDir(target.dataDir);
    mkdirSync(dir, { recursive: true });
    file = join(dir, `${target.component}-${target.id}.json`);
    writeFileSync(
      file,
      `${JSON.stringify([{ targets: [address], labels: { component: target.component, instance_id: target.id } }])}\n`,
    );
  }
  log?.info({ metrics: `http://${address}/metrics` }, 'metrics serving');
  return {
    address,
    url: `http://${address}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        if (file) rmSync(file, { force: true });
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
