import { fetchStatus, managerClient } from '../client/manager-client.js';
import { createPool } from '../common/database.js';
import { transportSummary } from '../tls/transport.js';
import { formatReplicaTable, formatSummary } from '../ui/status-view.js';
import { metricsLine } from './metrics-line.js';
import type { RunningSystem } from './run-up.js';

/**
 * `hedge up`'s terminal view, redrawn every second: the replicas and their
 * state, logical requests per second (new request-log entries, whatever the
 * number of copies), and the latest fail-over.
 */
export function startLiveView(system: RunningSystem, out: NodeJS.WriteStream): { stop(): void } {
  const manager = managerClient(system.managerAddress);
  const pool = createPool(system.databaseUrl, { max: 1, applicationName: 'hedge-up-view' });
  let drawnLines = 0;
  let stopped = false;

  const requestsPerSecond = async (): Promise<string> => {
    try {
      const { rows } = await pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM request_log WHERE created_at > now() - interval '5 seconds'",
      );
      return ((rows[0]?.n ?? 0) / 5).toFixed(1);
    } catch {
      return '?';
    }
  };

  const draw = async () => {
    const [status, rps] = await Promise.all([
      fetchStatus(manager, 900).catch(() => undefined),
      requestsPerSecond(),
    ]);
    if (stopped) return;
    const lines = [
      `hedge up · ${status ? formatSummary(status) : 'manager not answering (it is restarted if it died)'} · ${rps} req/s`,
      '',
      ...(status ? formatReplicaTable(status).split('\n') : []),
      '',
      `manager ${system.managerAddress} · feed ${system.feedAddress} · logs ${system.logDir}`,
      ...(system.metrics ? [metricsLine(system.metrics)] : []),
      transportSummary(),
      'Trade from another terminal: npx hedge trade · Ctrl-C stops everything.',
    ];
    // Move up over the previous drawing and clear it before redrawing.
    out.write(`${drawnLines > 0 ? `\x1b[${drawnLines}A\x1b[0J` : ''}${lines.join('\n')}\n`);
    drawnLines = lines.length;
  };

  const timer = setInterval(() => void draw(), 1_000);
  void draw();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
      manager.close();
      void pool.end();
    },
  };
}
