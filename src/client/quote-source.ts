import { BACKOFF } from '../common/backoff.js';
import { feedAddresses } from '../common/feed-addresses.js';
import { hedgeProto } from '../common/proto.js';
import { deadlineAfter, invoke, PEER_CHANNEL_OPTIONS } from '../common/rpc.js';
import { type Watch, watch } from '../common/watch-stream.js';
import type { SignedQuote__Output } from '../gen/hedge/v1/SignedQuote.js';
import type { StockFeedClient } from '../gen/hedge/v1/StockFeed.js';
import { channelCredentials } from '../tls/transport.js';

/** A quote is used only while at least this much of its life is left. */
const MIN_VALIDITY_MS = 2_000;

/**
 * The latest signed quotes from the feeds: streamed for the symbols a client
 * trades (so a trade never waits for a feed), fetched on demand otherwise.
 * Every feed gives the same price for a tick, so it follows all of them at once
 * and keeps the newest quote of each symbol, whichever feed sent it: a feed
 * that dies or hangs costs nothing while another streams, and no switch-over
 * is needed. A fetch asks every feed and takes the first answer.
 */
export class QuoteSource {
  private readonly latest = new Map<string, SignedQuote__Output>();
  /** Fetches in flight: callers wanting one symbol at once share one GetQuote round. */
  private readonly fetching = new Map<string, Promise<SignedQuote__Output>>();
  private readonly feeds: StockFeedClient[];
  private streaming: Watch[] = [];
  private streamed: string[] = [];
  private closed = false;

  /** `addresses`: one feed's address, or several, comma-separated (the --feed list). */
  constructor(addresses: string) {
    this.feeds = feedAddresses(addresses).map(
      (address) => new (hedgeProto().StockFeed)(address, channelCredentials('feed'), PEER_CHANNEL_OPTIONS),
    );
    if (this.feeds.length === 0) throw new Error('a quote source needs at least one feed address');
  }

  /** Keeps the quotes of these symbols current from the feed's stream; resolves with the first of each. */
  async follow(symbols: string[]): Promise<void> {
    this.streamed = [...new Set([...this.streamed, ...symbols])];
    // Closing the old watches cancels their streams or pending reopens, so one stream per feed is ever open.
    for (const w of this.streaming) w.close();
    this.streaming = [];
    if (!this.closed && this.streamed.length > 0) {
      const streamed = this.streamed;
      this.streaming = this.feeds.map((feed) =>
        watch<SignedQuote__Output>({
          open: () => feed.StreamQuotes({ symbols: streamed }),
          onData: (q) => this.remember(q),
          backoff: BACKOFF.quotes,
          name: 'quotes',
        }),
      );
    }
    await Promise.all(symbols.map((s) => this.get(s)));
  }

  async get(symbol: string): Promise<SignedQuote__Output> {
    const cached = this.latest.get(symbol);
    if (cached && Number(cached.expires_at_ms) - Date.now() > MIN_VALIDITY_MS) return cached;
    let fetch = this.fetching.get(symbol);
    if (!fetch) {
      fetch = firstAnswer(
        this.feeds.map((feed) =>
          invoke<SignedQuote__Output>((cb) =>
            feed.GetQuote({ symbol }, { deadline: deadlineAfter(3_000) }, cb),
          ),
        ),
      )
        .then((fresh) => {
          this.remember(fresh);
          return fresh;
        })
        .finally(() => this.fetching.delete(symbol));
      this.fetching.set(symbol, fetch);
    }
    return fetch;
  }

  close(): void {
    this.closed = true;
    for (const w of this.streaming) w.close();
    this.streaming = [];
    for (const feed of this.feeds) feed.close();
  }

  /** Keeps the newer of two quotes of a symbol: the later tick, from whichever feed. */
  private remember(q: SignedQuote__Output): void {
    const known = this.latest.get(q.symbol);
    if (!known || BigInt(q.sequence) >= BigInt(known.sequence)) this.latest.set(q.symbol, q);
  }
}

/** The first of these calls to succeed; if all fail, the first one's error (a status code, not an AggregateError). */
function firstAnswer<T>(calls: Promise<T>[]): Promise<T> {
  return Promise.any(calls).catch((err: AggregateError) => {
    throw err.errors[0];
  });
}
