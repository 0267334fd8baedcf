import type { QuoteSource } from '../../src/client/quote-source.js';
import { ReplicatedCallError } from '../../src/client/replicated-client.js';
import type { TradingSession } from '../../src/client/trading-session.js';
import { uuidv7 } from '../../src/common/ids.js';

export interface TradeOutcome {
  requestId: string;
  acknowledged: boolean;
  error?: string;
  startMs: number;
  endMs: number;
}

/**
 * Buys of one share from every session, one in flight per session, until
 * stopped: the client's own record of which trades were acknowledged, to check
 * the database against after a fault.
 */
export class TradeStream {
  readonly outcomes: TradeOutcome[] = [];
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(sessions: TradingSession[], quotes: QuoteSource) {
    this.loops = sessions.map((s) => this.loop(s, quotes));
  }

  get acknowledged(): TradeOutcome[] {
    return this.outcomes.filter((o) => o.acknowledged);
  }

  get failed(): TradeOutcome[] {
    return this.outcomes.filter((o) => !o.acknowledged);
  }

  /** Waits until `more` trades beyond those acknowledged so far are acknowledged. */
  async acknowledge(more: number, timeoutMs = 180_000): Promise<void> {
    const target = this.acknowledged.length + more;
    const deadline = Date.now() + timeoutMs;
    while (this.acknowledged.length < target) {
      if (Date.now() > deadline) {
        throw new Error(
          `only ${this.acknowledged.length} of ${target} trades acknowledged within ${timeoutMs} ms; ` +
            `last failures: ${JSON.stringify(this.failed.slice(-3))}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The trades sent before `atMs` and answered after it: in flight at that moment. */
  inFlightAt(atMs: number): TradeOutcome[] {
    return this.outcomes.filter((o) => o.startMs <= atMs && o.endMs > atMs);
  }

  /** The longest time between two acknowledgements from `sinceMs` on: the pause clients saw. */
  longestPauseMs(sinceMs: number): number {
    const times = [sinceMs, ...this.acknowledged.map((o) => o.endMs).filter((t) => t >= sinceMs)].sort(
      (a, b) => a - b,
    );
    let longest = 0;
    for (let i = 1; i < times.length; i++) longest = Math.max(longest, (times[i] ?? 0) - (times[i - 1] ?? 0));
    return longest;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(session: TradingSession, quotes: QuoteSource): Promise<void> {
    await quotes.follow(['ABC']);
    while (this.running) {
      const requestId = uuidv7();
      const startMs = Date.now();
      try {
        await session.buy('ABC', 1, await quotes.get('ABC'), requestId);
        this.outcomes.push({ requestId, acknowledged: true, startMs, endMs: Date.now() });
      } catch (err) {
        const error = err instanceof ReplicatedCallError ? `${err.code} ${err.details}` : String(err);
        this.outcomes.push({ requestId, acknowledged: false, error, startMs, endMs: Date.now() });
      }
    }
  }
}
