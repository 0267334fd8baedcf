import type { QuoteSource } from '../../src/client/quote-source.js';
import type { CallTelemetry } from '../../src/client/replicated-client.js';
import { ReplicatedCallError } from '../../src/client/replicated-client.js';
import type { TradingSession } from '../../src/client/trading-session.js';
import { uuidv7 } from '../../src/common/ids.js';

export interface LoadResult {
  ok: number;
  failed: { requestId: string; error: string }[];
  telemetry: (CallTelemetry & { requestId: string })[];
}

/**
 * `total` buys of one share, spread over the sessions (one call in flight per
 * session); `during(done)` runs once `done` buys have completed, so a test can
 * inject a fault mid-stream.
 */
export async function tradeMany(
  sessions: TradingSession[],
  quotes: QuoteSource,
  total: number,
  during?: { after: number; action: () => Promise<void> | void },
): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, failed: [], telemetry: [] };
  let issued = 0;
  let done = 0;
  let fired: Promise<void> | undefined;
  await quotes.follow(['ABC']);
  await Promise.all(
    sessions.map(async (session) => {
      while (issued < total) {
        issued += 1;
        const requestId = uuidv7();
        try {
          const { telemetry } = await session.buy('ABC', 1, await quotes.get('ABC'), requestId);
          result.ok += 1;
          result.telemetry.push({ ...telemetry, requestId });
        } catch (err) {
          const e = err as ReplicatedCallError;
          result.failed.push({
            requestId,
            error: e instanceof ReplicatedCallError ? `${e.code} ${e.details}` : String(err),
          });
          if (e instanceof ReplicatedCallError) result.telemetry.push({ ...e.telemetry, requestId });
        }
        done += 1;
        if (during && !fired && done >= during.after) fired = Promise.resolve(during.action());
      }
    }),
  );
  await fired;
  return result;
}
