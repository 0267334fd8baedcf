import { BACKOFF } from '../common/backoff.js';
import { feedAddresses } from '../common/feed-addresses.js';
import type { Logger } from '../common/logger.js';
import { hedgeProto } from '../common/proto.js';
import { PEER_CHANNEL_OPTIONS } from '../common/rpc.js';
import { type Watch, watch } from '../common/watch-stream.js';
import type { SignedQuote__Output } from '../gen/hedge/v1/SignedQuote.js';
import type { StockFeedClient } from '../gen/hedge/v1/StockFeed.js';
import { channelCredentials } from '../tls/transport.js';
import type { QuoteVerifier } from './quote-verifier.js';
import type { Tick, TriggerFiring } from './trigger-firing.js';
import { TriggerNotices } from './trigger-notices.js';

/** While change notices are heard, the armed symbols are still read this often: a notice lost on a connection that hung unnoticed costs at most this. */
const NOTICED_POLL_MS = 10_000;
/** Notices that come together (a burst of trigger commands) make one read, this long after the first. */
const NOTICE_GATHER_MS = 100;

/**
 * Every replica watches the feeds' signed ticks for the symbols some armed
 * trigger waits on, and hands them to fire_triggers, which fires each trigger
 * once whichever replicas see the tick (sql/triggers.sql: it fires only an armed
 * trigger, under its row lock, and only on a tick issued after it was armed). The
 * set of symbols is read from the database every second; the streams for a set
 * are reopened with back-off when they fail, apart from that polling. A trigger
 * fires on the first tick after it was armed whose price satisfies it, at that
 * tick's price; a watcher that falls behind a feed is sent the newest tick of
 * each symbol (feed.proto).
 *
 * It streams from every feed at once: feeds with one seed quote the same price
 * and issue time under the same sequence (the tick index), so a tick is the same
 * whichever feed sends it, and a tick counts once, when its sequence first passes
 * the highest seen for its symbol. A feed that dies costs no tick while another
 * streams.
 */
export class TriggerWatcher {
  private readonly feeds: StockFeedClient[];
  private ticks: Watch[] = [];
  /** Each symbol's highest sequence seen, from any feed: a tick is handed on once. */
  private readonly highest = new Map<string, bigint>();
  private watched = '';
  private pending: Tick[] = [];
  private flushing = false;
  private timer: NodeJS.Timeout | undefined;
  private dueAt = 0;
  private refreshing = false;
  private refreshAgain = false;
  private notices: TriggerNotices | undefined;
  private stopped = false;

  constructor(
    private readonly firing: TriggerFiring,
    /** One feed's address, or several, comma-separated (the --feed list). */
    feedAddressList: string,
    private readonly verifier: QuoteVerifier,
    private readonly log: Logger,
    private readonly pollMs = 1_000,
    /** The database to listen on for trigger changes; without it the set is read every pollMs. */
    private readonly noticesFrom?: { url: string; applicationName: string },
  ) {
    this.feeds = feedAddresses(feedAddressList).map(
      (address) => new (hedgeProto().StockFeed)(address, channelCredentials('feed'), PEER_CHANNEL_OPTIONS),
    );
  }

  start(): void {
    if (this.noticesFrom) {
      const { url, applicationName } = this.noticesFrom;
      this.notices = new TriggerNotices(
        url,
        applicationName,
        () => this.schedule(NOTICE_GATHER_MS),
        this.log,
      );
      this.notices.start();
    }
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    void this.notices?.stop();
    this.closeStreams();
    for (const feed of this.feeds) feed.close();
  }

  /** The next read in `ms`, unless one comes sooner already. */
  private schedule(ms: number): void {
    if (this.stopped) return;
    const due = Date.now() + ms;
    if (this.timer !== undefined && this.dueAt <= due) return;
    clearTimeout(this.timer);
    this.dueAt = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.read();
    }, ms);
  }

  /** One read at a time, applied in order; a change noticed during a read makes another after it. */
  private async read(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = true;
    try {
      await this.refresh();
    } finally {
      this.refreshing = false;
    }
    if (this.refreshAgain) {
      this.refreshAgain = false;
      this.schedule(0);
    } else {
      this.schedule(this.notices?.listening ? NOTICED_POLL_MS : this.pollMs);
    }
  }

  private closeStreams(): void {
    for (const w of this.ticks) w.close();
    this.ticks = [];
  }

  private async refresh(): Promise<void> {
    const symbols = await this.firing.armedSymbols().catch(() => undefined);
    // A read that finishes after stop() must not open a stream on the closed channel.
    if (!symbols || this.stopped) return;
    const key = symbols.join(',');
    if (key === this.watched) return;
    this.watched = key;
    this.closeStreams();
    const wanted = new Set(symbols);
    for (const s of this.highest.keys()) if (!wanted.has(s)) this.highest.delete(s);
    if (symbols.length === 0) return;
    this.ticks = this.feeds.map((feed) =>
      watch<SignedQuote__Output>({
        open: () => feed.StreamQuotes({ symbols }),
        onData: (q) => this.onStreamed(q),
        backoff: BACKOFF.triggerTicks,
        log: this.log,
        name: 'trigger ticks',
      }),
    );
  }

  /**
   * A stream starts with each symbol's current quote. The first quote of a newly
   * watched symbol is a snapshot, not a tick: a trigger fires on a tick that comes
   * after it was armed, so only later ticks count. After that, a quote is a tick
   * when its sequence is higher than any seen: a later tick (a stream reopened,
   * another feed's stream, a feed a tick ahead), never the same tick again from
   * another feed or re-signed. Only a verified quote moves the highest: one
   * signed by no trusted key must not hide the ticks after it.
   */
  private onStreamed(q: SignedQuote__Output): void {
    const highest = this.highest.get(q.symbol);
    if (highest !== undefined && /^[0-9]{1,19}$/.test(q.sequence) && BigInt(q.sequence) <= highest) return;
    let tick: Tick;
    try {
      tick = this.verifier.verify(q);
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message, symbol: q.symbol },
        'ignored a tick that failed verification',
      );
      return;
    }
    if (highest !== undefined && tick.sequence <= highest) return;
    this.highest.set(tick.symbol, tick.sequence);
    if (highest !== undefined) this.onTick(tick);
  }

  private onTick(tick: Tick): void {
    this.pending.push(tick);
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
