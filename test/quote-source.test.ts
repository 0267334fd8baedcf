import { Server, ServerCredentials, type sendUnaryData } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { QuoteSource } from '../src/client/quote-source.js';
import { hedgeProto } from '../src/common/proto.js';
import type { SignedQuote } from '../src/gen/hedge/v1/SignedQuote.js';

describe('QuoteSource', () => {
  const servers: Server[] = [];
  const sources: QuoteSource[] = [];
  afterEach(() => {
    for (const s of sources.splice(0)) s.close();
    for (const s of servers.splice(0)) s.forceShutdown();
  });

  it('callers asking for one symbol at once share one fetch, and a fresh quote is then served from memory', async () => {
    let calls = 0;
    const server = new Server();
    servers.push(server);
    server.addService(hedgeProto().StockFeed.service, {
      GetQuote: (_call: unknown, callback: sendUnaryData<SignedQuote>) => {
        calls += 1;
        // Answered a little later, so the other callers arrive while it is in flight.
        setTimeout(
          () =>
            callback(null, {
              symbol: 'ABC',
              price: '10.00',
              issued_at_ms: String(Date.now()),
              expires_at_ms: String(Date.now() + 10_000),
              sequence: '1',
              key_id: 'k',
              signature: Buffer.alloc(0),
            }),
          50,
        );
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    const source = new QuoteSource(`127.0.0.1:${port}`);
    sources.push(source);
    const quotes = await Promise.all(Array.from({ length: 10 }, () => source.get('ABC')));
    expect(calls).toBe(1);
    expect(new Set(quotes.map((q) => q.price))).toEqual(new Set(['10.00']));
    await source.get('ABC');
    expect(calls).toBe(1);
  });
});
