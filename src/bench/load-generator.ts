import { setTimeout as delay } from 'node:timers/promises';
import type { QuoteSource } from '../client/quote-source.js';
import { ReplicatedCallError } from '../client/replicated-client.js';
import type { TradingSession } from '../client/trading-session.js';
import { isRetryable } from '../common/errors.js';
import { uuidv7 } from '../common/ids.js';

/** One request as the client saw it. Times are epoch milliseconds with fractions. */
export interface RequestRecord {
  client: number;
  request_id: string;
  op: 'buy' | 'sell';
  start_ms: number;
  end_ms: number;
  latency_ms: number;
  /** ok; refused (a final application error); failed (no replica answered in time). */
  outcome: 'ok' | 'refused' | 'failed';
  code: number;
  replica: string | null;
  attempts: number;
  failed_attempts: number;
}

export interface LoadOptions {
  warmupMs: number;
  durationMs: number;
  /**
   * Open loop: requests per second offered by all clients together, each client
   * on its own fixed schedule. A request's latency counts from the time it was
   * scheduled, so a client held up by a slow answer does not hide the delay it
   * causes the requests behind it (no coordinated omission). Undefined: closed
   * loop, each client sending as soon as its previous call returns (capacity).
   */
  ratePerSecond?: number;
  symbol: string;
  /** Every completed measured request, as it completes. */
  onRecord: (r: RequestRecord) => void;
}

const now = () => performance.timeOrigin + performance.now();

/**
 * Clients, each with one call in flight at a time, buying one share, then
 * selling it, over and over, for the warm-up and the measured time. Only
 * requests scheduled after the warm-up are recorded.
 */
export async function generateLoad(sessions: TradingSession[], quotes: QuoteSource, options: LoadOptions) {
  const began = now();
  const measureFrom = began + options.warmupMs;
  const end = measureFrom + options.durationMs;
  const intervalMs = options.ratePerSecond ? (1000 * sessions.length) / options.ratePerSecond : 0;
  await Promise.all(
    sessions.map(async (session, client) => {
      let held = 0;
      // Open loop: clients' schedules are staggered evenly over one interval.
      let scheduled = began + (intervalMs * client) / sessions.length;
      // Open loop stops at the end of the measured time too: a client far behind a schedule
      // above capacity (overload) would otherwise send the backlog for as long again.
      while ((intervalMs ? scheduled : now()) < end && now() < end) {
        if (intervalMs) {
          const wait = scheduled - now();
          if (wait > 0) await delay(wait);
        }
        const op = held > 0 ? 'sell' : 'buy';
        const requestId = uuidv7();
        const quote = await quotes.get(options.symbol);
        const start = intervalMs ? scheduled : now();
        scheduled += intervalMs;
        let record: Omit<RequestRecord, 'end_ms' | 'latency_ms'>;
        try {
          const { telemetry } = await (op === 'buy'
            ? session.buy(options.symbol, 1, quote, requestId)
            : session.sell(options.symbol, 1, quote, requestId));
          held += op === 'buy' ? 1 : -1;
          record = {
            client,
            request_id: requestId,
            op,
            start_ms: start,
            outcome: 'ok',
            code: 0,
            replica: telemetry.answeredBy ?? null,
            attempts: telemetry.attempts,
            failed_attempts: telemetry.failures.length,
          };
        } catch (err) {
          if (!(err instanceof ReplicatedCallError)) throw err;
          record = {
            client,
            request_id: requestId,
            op,
            start_ms: start,
            outcome: isRetryable(err.code) ? 'failed' : 'refused',
            code: err.code,
            replica: err.telemetry.answeredBy ?? null,
            attempts: err.telemetry.attempts,
            failed_attempts: err.telemetry.failures.length,
          };
        }
        const finished = now();
        if (start >= measureFrom)
          options.onRecord({ ...record, end_ms: finished, latency_ms: finished - start });
      }
    }),
  );
  return { measuredFromMs: measureFrom, measuredToMs: end };
}
