import { BACKOFF } from '../common/backoff.js';
import type { Logger } from '../common/logger.js';
import { hedgeProto } from '../common/proto.js';
import { PEER_CHANNEL_OPTIONS } from '../common/rpc.js';
import { type Watch, watch } from '../common/watch-stream.js';
import type { SignedQuote__Output } from '../gen/hedge/v1/SignedQuote.js';
import type { StockFeedClient } from '../gen/hedge/v1/StockFeed.js';
import { channelCredentials } from '../tls/transport.js';
import type { QuoteVerifier } from './quote-verifier.js';
import type { Tick, TriggerFiring } from './trigger-firing.js';

/**
 * Every replica watches the feed's signed ticks for the symbols some armed
 * trigger waits on, and hands them to fire_triggers, which fires each trigger
 * once whichever replicas see the tick (sql/triggers.sql). The set of symbols is
 * read from the database every second; the stream for a set is reopened with
 * back-off when it fails, apart from that polling. A trigger fires on the first tick after
 * it was armed whose price satisfies it, at that tick's price; a watcher that
 * falls behind the feed is sent the newest tick of each symbol (feed.proto).
 */
export class TriggerWatcher {
  private readonly feed: StockFeedClient;
  private ticks: Watch | undefined;
  private watched = '';
  private pending: Tick[] = [];
  private flushing = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly firing: TriggerFiring,
    feedAddress: string,
    private readonly verifier: QuoteVerifier,
    private readonly log: Logger,
    private readonly pollMs = 1_000,
  ) {
    this.feed = new (hedgeProto().StockFeed)(feedAddress, channelCredentials('feed'), PEER_CHANNEL_OPTIONS);
  }

  start(): void {
    this.timer = setInterval(() => void this.refresh(), this.pollMs);
    void this.refresh();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.ticks?.close();
    this.ticks = undefined;
    this.feed.close();
  }

  private async refresh(): Promise<void> {
    const symbols = await this.firing.armedSymbols().catch(() => undefined);
    // A read that finishes after stop() must not open a stream on the closed channel.
    if (!symbols || this.stopped) return;
    const key = symbols.join(',');
    if (key === this.watched) return;
    this.watched = key;
    this.ticks?.close();
    this.ticks = undefined;
    if (symbols.length === 0) return;
    // A stream starts with each symbol's current quote: a snapshot, not a tick. A
    // trigger fires on a tick that comes after it was armed, so only later ticks count.
    const snapshot = new Map<string, bigint>();
    this.ticks = watch<SignedQuote__Output>({
      open: () => this.feed.StreamQuotes({ symbols }),
      onOpen: () => snapshot.clear(),
      onData: (q) => {
        const first = snapshot.get(q.symbol);
        if (first === undefined) snapshot.set(q.symbol, BigInt(q.sequence));
        else if (BigInt(q.sequence) > first) this.onQuote(q);
      },
      backoff: BACKOFF.triggerTicks,
      log: this.log,
      name: 'trigger ticks',
    });
  }

  private onQuote(quote: SignedQuote__Output): void {
    try {
      this.pending.push(this.verifier.verify(quote));
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message, symbol: quote.symbol },
        'ignored a tick that failed verification',
      );
      return;
    }
    // A tick's quotes arrive together: gather them for one call.
    if (this.pending.length === 1) setTimeout(() => void this.flush(), 10);
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.pending.length === 0) return;
    this.flushing = true;
    const batch = this.pending;
    this.pending = [];
    try {
      const { fired, failures } = await this.firing.fireTriggers(batch);
      if (fired > 0) this.log.info({ fired, ticks: batch.length }, 'triggers fired');
      if (failures.length > 0) {
        this.log.error({ failures }, 'triggers could not fire; they stay armed for a later tick');
      }
    } catch (err) {
      this.log.warn({ err }, 'firing triggers failed; the next tick tries again');
    } finally {
      this.flushing = false;
      if (this.pending.length > 0) void this.flush();
    }
  }
}
