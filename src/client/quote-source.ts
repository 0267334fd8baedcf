import { BACKOFF } from '../common/backoff.js';
import { hedgeProto } from '../common/proto.js';
import { deadlineAfter, invoke, PEER_CHANNEL_OPTIONS } from '../common/rpc.js';
import { type Watch, watch } from '../common/watch-stream.js';
import type { SignedQuote__Output } from '../gen/hedge/v1/SignedQuote.js';
import type { StockFeedClient } from '../gen/hedge/v1/StockFeed.js';
import { channelCredentials } from '../tls/transport.js';

/** A quote is used only while at least this much of its life is left. */
const MIN_VALIDITY_MS = 2_000;

/**
 * The latest signed quotes from the feed: streamed for the symbols a client
 * trades (so a trade never waits for the feed), fetched on demand otherwise.
 */
export class QuoteSource {
  private readonly latest = new Map<string, SignedQuote__Output>();
  /** Fetches in flight: callers wanting one symbol at once share one GetQuote. */
  private readonly fetching = new Map<string, Promise<SignedQuote__Output>>();
  private readonly feed: StockFeedClient;
  private streaming: Watch | undefined;
  private streamed: string[] = [];
  private closed = false;

  constructor(address: string) {
    this.feed = new (hedgeProto().StockFeed)(address, channelCredentials('feed'), PEER_CHANNEL_OPTIONS);
  }

  /** Keeps the quotes of these symbols current from the feed's stream; resolves with the first of each. */
  async follow(symbols: string[]): Promise<void> {
    this.streamed = [...new Set([...this.streamed, ...symbols])];
    // Closing the old watch cancels its stream or its pending reopen, so only one stream is ever open.
    this.streaming?.close();
    this.streaming = undefined;
    if (!this.closed && this.streamed.length > 0) {
      const streamed = this.streamed;
      this.streaming = watch<SignedQuote__Output>({
        open: () => this.feed.StreamQuotes({ symbols: streamed }),
        onData: (q) => this.remember(q),
        backoff: BACKOFF.quotes,
        name: 'quotes',
      });
    }
    await Promise.all(symbols.map((s) => this.get(s)));
  }

  async get(symbol: string): Promise<SignedQuote__Output> {
    const cached = this.latest.get(symbol);
    if (cached && Number(cached.expires_at_ms) - Date.now() > MIN_VALIDITY_MS) return cached;
    let fetch = this.fetching.get(symbol);
    if (!fetch) {
      fetch = invoke<SignedQuote__Output>((cb) =>
        this.feed.GetQuote({ symbol }, { deadline: deadlineAfter(3_000) }, cb),
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
    this.streaming?.close();
    this.feed.close();
  }

  private remember(q: SignedQuote__Output): void {
    const known = this.latest.get(q.symbol);
    if (!known || BigInt(q.sequence) >= BigInt(known.sequence)) this.latest.set(q.symbol, q);
  }
}
