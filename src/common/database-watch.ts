import { createPool, type Pool } from './database.js';
import type { Logger } from './logger.js';

export interface DatabaseWatchOptions {
  applicationName: string;
  /** Between checks while they fail (default 500 ms): a return is seen soon. */
  intervalMs?: number;
  /** Between checks while they succeed (default 2 s): a dropped connection triggers one at once besides. */
  restIntervalMs?: number;
  /** How long one check may take, connecting included. */
  timeoutMs?: number;
  /** Failed checks in a row that make the database unreachable (one blip is not an outage). */
  misses?: number;
}

/**
 * Whether PostgreSQL answers: `SELECT 1` every interval over a connection of its
 * own (a pool busy with requests does not delay it), with a short timeout. At
 * rest the checks are seconds apart (they cost both processes CPU); a server that
 * dies or restarts drops the watch's idle connection, which triggers a check at
 * once, and checks come every `intervalMs` while they fail.
 * `onChange` hears every change; the database counts as reachable until checks fail.
 */
export class DatabaseWatch {
  reachable = true;
  private readonly pool: Pool;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failures = 0;

  constructor(
    url: string,
    private readonly options: DatabaseWatchOptions,
    private readonly onChange: (reachable: boolean) => void = () => {},
    private readonly log?: Logger,
  ) {
    const timeoutMs = options.timeoutMs ?? 2_000;
    this.pool = createPool(url, {
      max: 1,
      applicationName: options.applicationName,
      connectionTimeoutMs: timeoutMs,
      queryTimeoutMs: timeoutMs,
    });
    // The idle connection dropped (the server died or restarted): check now, not at the next rest interval.
    this.pool.on('error', () => {
      if (this.timer === undefined || this.stopped) return;
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.check();
    });
  }

  start(): this {
    this.schedule();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pool.end().catch(() => {});
  }

  private schedule(): void {
    if (this.stopped) return;
    const failing = this.failures > 0 || !this.reachable;
    const ms = failing ? (this.options.intervalMs ?? 500) : (this.options.restIntervalMs ?? 2_000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.check();
    }, ms);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    try {
      await this.pool.query('SELECT 1');
      this.failures = 0;
      this.set(true);
    } catch (err) {
      this.failures += 1;
      if (this.failures >= (this.options.misses ?? 2)) this.set(false, (err as Error).message);
    }
    this.schedule();
  }

  private set(reachable: boolean, why?: string): void {
    if (this.stopped || reachable === this.reachable) return;
    this.reachable = reachable;
    if (reachable) this.log?.info('the database is reachable again');
    else this.log?.warn({ err: why }, 'the database is unreachable');
    this.onChange(reachable);
  }
}
