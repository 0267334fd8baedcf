import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeTempDataDir } from '../../src/common/paths.js';
import { hedgeProto } from '../../src/common/proto.js';
import { PEER_CHANNEL_OPTIONS } from '../../src/common/rpc.js';
import { type Watch, watch } from '../../src/common/watch-stream.js';
import type { SignedQuote__Output } from '../../src/gen/hedge/v1/SignedQuote.js';
import type { StockFeedClient } from '../../src/gen/hedge/v1/StockFeed.js';
import { channelCredentials } from '../../src/tls/transport.js';
import { startTestFeed, type TestFeed } from '../support/feed.js';
import { undoAfterEach } from '../support/undo-after-each.js';
import { waitFor } from '../support/wait.js';

const FAST = { initialMs: 20, maxMs: 200 };

/** A watch of the feed's StreamQuotes that records what it opened and what it got. */
function watchQuotes(client: StockFeedClient) {
  const opened: { finished: boolean }[] = [];
  const quotes: SignedQuote__Output[] = [];
  let resets = 0;
  const handle: Watch = watch<SignedQuote__Output>({
    open: () => {
      const stream = client.StreamQuotes({ symbols: ['ABC'] });
      const entry = { finished: false };
      opened.push(entry);
      // 'status' comes once per call, however it ended (or was cancelled).
      stream.on('status', () => {
        entry.finished = true;
      });
      return stream;
    },
    onData: (q) => quotes.push(q),
    onReset: () => {
      resets += 1;
    },
    backoff: FAST,
  });
  return {
    handle,
    opened,
    quotes,
    resets: () => resets,
    live: () => opened.filter((s) => !s.finished).length,
  };
}

describe('watch (a reconnecting stream)', () => {
  const cleanup = undoAfterEach();

  /** A feed on a data directory of the test's, so that it can be restarted on its port. */
  async function restartableFeed(): Promise<{
    feed: () => TestFeed;
    restart: () => Promise<void>;
    stop: () => Promise<void>;
  }> {
    const dataDir = makeTempDataDir('hedge-test-watch-');
    let feed: TestFeed | undefined = await startTestFeed({ dataDir, tickMs: 50 });
    const port = Number(feed.address.split(':').pop());
    const stop = async () => {
      await feed?.stop();
      feed = undefined;
    };
    cleanup(async () => {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    });
    return {
      feed: () => feed as TestFeed,
      stop,
      restart: async () => {
        feed = await startTestFeed({ dataDir, tickMs: 50, port });
      },
    };
  }

  function clientOf(address: string): StockFeedClient {
    const client = new (hedgeProto().StockFeed)(address, channelCredentials(), PEER_CHANNEL_OPTIONS);
    cleanup(() => client.close());
    return client;
  }

  it('reopens the stream after the server goes away and comes back, and keeps one stream open', async () => {
    const feed = await restartableFeed();
    const w = watchQuotes(clientOf(feed.feed().address));
    cleanup(() => w.handle.close());
    await waitFor('a first quote', () => w.quotes.length > 0);

    await feed.stop();
    // Lost, and tried again while the feed is away (each try fails at once).
    await waitFor('the stream to be lost and retried', () => w.resets() >= 2);
    const before = w.quotes.length;
    await feed.restart();
    await waitFor('quotes from the restarted feed', () => w.quotes.length > before);

    expect(w.opened.length).toBeGreaterThan(2);
    // A loss reports both an end and an error: each loss still opened one stream, not two.
    expect(w.live()).toBe(1);
    expect(w.opened.length).toBe(w.resets() + 1);
  });

  it('close() cancels the open stream, and nothing is opened or delivered after it', async () => {
    const feed = await restartableFeed();
    const client = clientOf(feed.feed().address);
    const closed = watchQuotes(client);
    // A second watch, on the same back-off, shows when the closed one would have reopened.
    const control = watchQuotes(client);
    cleanup(() => control.handle.close());
    await waitFor('a first quote on both', () => closed.quotes.length > 0 && control.quotes.length > 0);

    closed.handle.close();
    await waitFor('the closed watch to cancel its stream', () => closed.live() === 0);
    const got = closed.quotes.length;
    await feed.stop();
    await waitFor('the control to lose its stream', () => control.resets() >= 1);
    await feed.restart();
    const controlGot = control.quotes.length;
    await waitFor('the control to reopen and get quotes', () => control.quotes.length > controlGot);

    expect(closed.opened.length).toBe(1);
    expect(closed.resets()).toBe(0);
    expect(closed.quotes.length).toBe(got);
  });

  it('close() during the wait to reopen cancels the reopen', async () => {
    const feed = await restartableFeed();
    const client = clientOf(feed.feed().address);
    let opens = 0;
    let resets = 0;
    // A long wait, so that close() surely comes while the reopen is pending.
    const pending = watch<SignedQuote__Output>({
      open: () => {
        opens += 1;
        return client.StreamQuotes({ symbols: ['ABC'] });
      },
      onData: () => {},
      onReset: () => {
        resets += 1;
      },
      backoff: { initialMs: 60_000, maxMs: 60_000 },
    });
    cleanup(() => pending.close());
    await feed.stop();
    await waitFor('the stream to be lost', () => resets === 1);
    // The reopen is the one timer close() can clear (the stream is gone): nothing else runs in between.
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    pending.close();
    expect(timers()).toBe(before - 1);
    expect(opens).toBe(1);
  });
});
