import { createPool, type Pool, type PoolClient } from '../common/database.js';
import type { Logger } from '../common/logger.js';

/** The channel sql/triggers.sql notifies on every statement that changes the triggers table. */
export const TRIGGERS_CHANNEL = 'hedge_triggers';
/** Between attempts to listen again after the connection failed. */
const RELISTEN_MS = 1_000;

/**
 * Tells a trigger watcher when the armed triggers may have changed, so that it
 * reads them then instead of once a second at rest (issue 12, idle cost): one
 * connection of its own LISTENs on TRIGGERS_CHANNEL. Every time it starts
 * listening (at start, and again after the connection failed, which may have
 * missed notices) `onChange` is called as well, and when it stops listening.
 * `listening` says whether notices are heard now: while not, the watcher polls
 * as it did.
 */
export class TriggerNotices {
  listening = false;
  private readonly pool: Pool;
  private client: PoolClient | undefined;
  private readonly released = new WeakSet<PoolClient>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    url: string,
    applicationName: string,
    private readonly onChange: () => void,
    private readonly log?: Logger,
  ) {
    this.pool = createPool(url, { max: 1, applicationName, connectionTimeoutMs: 5_000 });
  }

  start(): this {
    void this.listen();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.drop();
    await this.pool.end().catch(() => {});
  }

  private async listen(): Promise<void> {
    this.timer = undefined;
    let client: PoolClient | undefined;
    try {
      client = await this.pool.connect();
      client.on('notification', () => this.onChange());
      client.on('error', () => this.failed(client));
      await client.query(`LISTEN ${TRIGGERS_CHANNEL}`);
      if (this.stopped) throw new Error('stopped');
      this.client = client;
      this.listening = true;
      this.onChange();
    } catch (err) {
      if (!this.stopped) this.log?.warn({ err }, 'cannot listen for trigger changes; polling meanwhile');
      this.failed(client);
    }
  }

  /** The connection failed (or never was): drop it and listen again soon. */
  private failed(client: PoolClient | undefined): void {
    // An error of a connection already dropped is not news.
    if (client && this.released.has(client)) return;
    const wasListening = this.listening;
    this.drop(client);
    // Changes may go unheard from now on: the watcher reads once more, then polls.
    if (wasListening && !this.stopped) this.onChange();
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => void this.listen(), RELISTEN_MS);
    this.timer.unref();
  }

  private drop(client = this.client): void {
    this.listening = false;
    if (client === this.client) this.client = undefined;
    if (!client || this.released.has(client)) return;
    this.released.add(client);
    // Released as broken: the pool closes it rather than handing it out again.
    client.release(true);
  }
}
