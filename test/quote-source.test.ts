import { setTimeout as delay } from 'node:timers/promises';
import { Server, type ServerWritableStream, type sendUnaryData, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { QuoteSource } from '../src/client/quote-source.js';
import { hedgeProto } from '../src/common/proto.js';
import type { SignedQuote } from '../src/gen/hedge/v1/SignedQuote.js';
import type { StreamQuotesRequest__Output } from '../src/gen/hedge/v1/StreamQuotesRequest.js';
import { serverCredentials } from '../src/tls/transport.js';
import { undoAfterEach } from './support/undo-after-each.js';
import { waitFor } from './support/wait.js';

function quoteOf(symbol: string): SignedQuote {
  return {
    symbol,
    price: '10.00',
    issued_at_ms: String(Date.now()),
    expires_at_ms: String(Date.now() + 10_000),
    sequence: '1',
    key_id: 'k',
    signature: Buffer.alloc(0),
  };
}

async function listen(server: Server): Promise<number> {
  return new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', serverCredentials(), (err, p) => (err ? reject(err) : resolve(p))),
  );
}

describe('QuoteSource', () => {
  const undo = undoAfterEach();

  it('callers asking for one symbol at once share one fetch, and a fresh quote is then served from memory', async () => {
    let calls = 0;
    const server = new Server();
    undo(() => server.forceShutdown());
    server.addService(hedgeProto().StockFeed.service, {
      GetQuote: (_call: unknown, callback: sendUnaryData<SignedQuote>) => {
        calls += 1;
        // Answered a little later, so the other callers arrive while it is in flight.
        setTimeout(() => callback(null, quoteOf('ABC')), 50);
      },
    });
    const port = await listen(server);
    const source = new QuoteSource(`127.0.0.1:${port}`);
    undo(() => source.close());
    const quotes = await Promise.all(Array.from({ length: 10 }, () => source.get('ABC')));
    expect(calls).toBe(1);
    expect(new Set(quotes.map((q) => q.price))).toEqual(new Set(['10.00']));
    await source.get('ABC');
    expect(calls).toBe(1);
  });

  it('following more symbols while a reopen is pending leaves one stream, of all the symbols', async () => {
    const streams: { symbols: string[]; open: boolean }[] = [];
    let firstFailed = false;
    const server = new Server();
    undo(() => server.forceShutdown());
    server.addService(hedgeProto().StockFeed.service, {
      GetQuote: (call: { request: { symbol: string } }, callback: sendUnaryData<SignedQuote>) =>
        callback(null, quoteOf(call.request.symbol)),
      StreamQuotes: (call: ServerWritableStream<StreamQuotesRequest__Output, SignedQuote>) => {
        const stream = { symbols: call.request.symbols, open: true };
        streams.push(stream);
        call.on('cancelled', () => {
          stream.open = false;
        });
        // The first stream fails, so that the source waits to reopen it; the others stay open.
        if (streams.length === 1) {
          stream.open = false;
          call.emit('error', { code: status.UNAVAILABLE, details: 'going away' });
          firstFailed = true;
        }
      },
    });
    const source = new QuoteSource(`127.0.0.1:${await listen(server)}`);
    undo(() => source.close());
    await source.follow(['ABC']);
    await waitFor('the first stream to fail', () => firstFailed);
    // Time for the failure to reach the source, which then waits 500 ms to reopen.
    await delay(100);
    await source.follow(['DEF']);
    // Past the time the pending reopen was due (timers run in order of when they are due).
    await delay(600);
    expect(streams.filter((s) => s.open).map((s) => s.symbols)).toEqual([['ABC', 'DEF']]);
  });
});
