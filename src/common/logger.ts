import { pino } from 'pino';
import { isInsecure } from '../tls/transport.js';
import { logLevel } from './settings.js';

export type Logger = pino.Logger;

/**
 * JSON lines on stdout (or a file), one logger per process, with the component
 * and, for replicas, the replica id on every line. HEDGE_LOG_LEVEL sets the level (settings.ts).
 */
export function createLogger(component: string, fields: Record<string, unknown> = {}, file?: string): Logger {
  return pino(
    {
      level: logLevel(),
      // A process told to run without TLS says so on every line.
      base: { component, pid: process.pid, ...(isInsecure() ? { tls: 'off (--insecure)' } : {}), ...fields },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: file ?? 1, sync: true, mkdir: true }),
  );
}
