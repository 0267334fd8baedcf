import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFeedPublicKey, verifyQuoteSignature } from '../src/common/feed-key.js';
import { checkHealth, healthClient } from '../src/common/health.js';
import { formatCents } from '../src/common/money.js';
import { makeTempDataDir } from '../src/common/paths.js';
import { deadlineAfter, invoke } from '../src/common/rpc.js';
import type { PublicKey__Output } from '../src/gen/hedge/v1/PublicKey.js';
import type { SignedQuote__Output } from '../src/gen/hedge/v1/SignedQuote.js';
import { loadOrCreateSigningKey } from '../src/stock-feed/signing-key.js';
import { startTestFeed, type TestFeed } from './support/feed.js';
import { listServices, reflect } from './support/reflection.js';
import { waitFor } from './support/wait.js';

function fieldsOf(q: SignedQuote__Output) {
  return {
    symbol: q.symbol,
    priceCents: BigInt(q.price.replace('.', '')),
    issuedAtMs: BigInt(q.issued_at_ms),
    expiresAtMs: BigInt(q.expires_at_ms),
    sequence: BigInt(q.sequence),
    keyId: q.key_id,
  };
}

describe('stock feed', () => {
  let feed: TestFeed;
  beforeAll(async () => {
    feed = await startTestFeed({ tickMs: 100 });
  });
  afterAll(async () => {
    await feed?.stop();
  });

  it('signs quotes that verify with the public key in its data directory, valid for 10 s', async () => {
    const quote = await feed.quote('DEF');
    expect(quote.price).toBe('25.50');
    expect(BigInt(quote.expires_at_ms) - BigInt(quote.issued_at_ms)).toBe(10_000n);
    const key = readFeedPublicKey(feed.publicKeyPath);
    expect(quote.key_id).toBe(key.keyId);
    expect(verifyQuoteSignature(fieldsOf(quote), quote.signature, key)).toBe(true);
  });

  it('signatures break when any field changes', async () => {
    const quote = await feed.quote('ABC');
    const key = readFeedPublicKey(feed.publicKeyPath);
    const fields = fieldsOf(quote);
    for (const changed of [
      { ...fields, priceCents: fields.priceCents - 1n },
      { ...fields, symbol: 'DEF' },
      { ...fields, expiresAtMs: fields.expiresAtMs + 60_000n },
      { ...fields, issuedAtMs: fields.issuedAtMs + 1n },
      { ...fields, sequence: fields.sequence + 1n },
    ]) {
      expect(verifyQuoteSignature(changed, quote.signature, key)).toBe(false);
    }
  });

  it('answers NOT_FOUND for an unknown symbol and INVALID_ARGUMENT for a malformed one', async () => {
    const unknown = await invoke((cb) =>
      feed.client.GetQuote({ symbol: 'ZZZ' }, { deadline: deadlineAfter(5_000) }, cb),
    ).catch((e: ServiceError) => e);
    expect((unknown as ServiceError).code).toBe(status.NOT_FOUND);
    const malformed = await invoke((cb) =>
      feed.client.GetQuote({ symbol: "A'; DROP TABLE" }, { deadline: deadlineAfter(5_000) }, cb),
    ).catch((e: ServiceError) => e);
    expect((malformed as ServiceError).code).toBe(status.INVALID_ARGUMENT);
  });

  it('streams the current quote, then a new signed quote every tick', async () => {
    const stream = feed.client.StreamQuotes({ symbols: ['ABC', 'GHI'] }, { deadline: deadlineAfter(10_000) });
    const received: SignedQuote__Output[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (q: SignedQuote__Output) => {
        received.push(q);
        if (received.length >= 6) resolve();
      });
      stream.on('error', (err: ServiceError) => (err.code === status.CANCELLED ? resolve() : reject(err)));
    });
    stream.cancel();
    const key = readFeedPublicKey(feed.publicKeyPath);
    expect(received.every((q) => verifyQuoteSignature(fieldsOf(q), q.signature, key))).toBe(true);
    expect(new Set(received.map((q) => q.symbol))).toEqual(new Set(['ABC', 'GHI']));
    const sequences = received.filter((q) => q.symbol === 'ABC').map((q) => BigInt(q.sequence));
    expect(sequences.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < sequences.length; i++) expect(sequences[i]).toBeGreaterThan(sequences[i - 1] ?? 0n);
  });

  it('refuses a stream naming an unknown symbol', async () => {
    const stream = feed.client.StreamQuotes({ symbols: ['ABC', 'NOPE'] }, { deadline: deadlineAfter(5_000) });
    const err = await new Promise<ServiceError>((resolve) => {
      stream.on('error', resolve);
      stream.on('data', () => {});
    });
    expect(err.code).toBe(status.NOT_FOUND);
  });

  it('publishes its public key and symbols', async () => {
    const key = await invoke<PublicKey__Output>((cb) =>
      feed.client.GetPublicKey({}, { deadline: deadlineAfter(5_000) }, cb),
    );
    expect(key.key_id).toBe(readFeedPublicKey(feed.publicKeyPath).keyId);
    expect(key.algorithm).toBe('RSASSA-PKCS1-v1_5-SHA256');
    const symbols = await invoke<{ symbols: string[] }>((cb) =>
      feed.client.ListSymbols({}, { deadline: deadlineAfter(5_000) }, cb),
    );
    expect(symbols.symbols.sort()).toEqual(['ABC', 'DEF', 'GHI', 'JKL']);
  });

  it('serves grpc.health.v1 and server reflection', async () => {
    const health = healthClient(feed.address);
    expect(await checkHealth(health, 5_000)).toBe('SERVING');
    expect(await checkHealth(health, 5_000, 'hedge.v1.StockFeed')).toBe('SERVING');
    health.close();
    expect(await listServices(feed.address)).toEqual(['grpc.health.v1.Health', 'hedge.v1.StockFeed']);
    const described = await reflect(feed.address, { file_containing_symbol: 'hedge.v1.StockFeed' });
    expect(described.file_descriptor_response?.file_descriptor_proto.length).toBeGreaterThan(0);
  });
});

describe('feed signing key', () => {
  it('is made once and kept in the data directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hedge-key-'));
    try {
      const first = loadOrCreateSigningKey(dir);
      const second = loadOrCreateSigningKey(dir);
      expect(second.publicKey.keyId).toBe(first.publicKey.keyId);
      expect(first.publicKey.key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a feed whose ticks are far apart', () => {
  it('re-signs a quote before it grows stale: a client never gets one with under half its life left', async () => {
    const slow = await startTestFeed({ tickMs: 3_600_000, quoteTtlMs: 400 });
    try {
      const first = await slow.quote('ABC');
      await new Promise((r) => setTimeout(r, 250));
      const later = await slow.quote('ABC');
      expect(later.sequence).toBe(first.sequence);
      expect(later.price).toBe(first.price);
      expect(Number(later.issued_at_ms)).toBeGreaterThan(Number(first.issued_at_ms));
      expect(Number(later.expires_at_ms) - Date.now()).toBeGreaterThan(200);
    } finally {
      await slow.stop();
    }
  });
});

describe('a feed restarted on the same data directory', () => {
  it('goes on increasing the sequence: it is the tick index since the epoch, not a count from its start', async () => {
    const dataDir = makeTempDataDir('hedge-test-feed-restart-');
    try {
      const first = await startTestFeed({ dataDir, tickMs: 50 });
      let before = await first.quote('ABC');
      try {
        const start = before;
        // Some ticks in, so that a count from zero would be behind.
        await waitFor('the feed to tick twice', async () => {
          before = await first.quote('ABC');
          return BigInt(before.sequence) >= BigInt(start.sequence) + 2n;
        });
      } finally {
        await first.stop();
      }
      const second = await startTestFeed({ dataDir, tickMs: 50 });
      try {
        const after = await second.quote('ABC');
        expect(after.key_id).toBe(before.key_id);
        expect(BigInt(after.sequence)).toBeGreaterThanOrEqual(BigInt(before.sequence));
        expect(BigInt(after.sequence)).toBeLessThanOrEqual(BigInt(Math.floor(Date.now() / 50)));
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a stream of more symbols than a call buffers', () => {
  it('sends every symbol in the first snapshot and in every later tick', async () => {
    const prices = Object.fromEntries(
      Array.from({ length: 200 }, (_, i) => [`S${String(i).padStart(3, '0')}`, 100n + BigInt(i)]),
    );
    const wide = await startTestFeed({ tickMs: 100, prices });
    const stream = wide.client.StreamQuotes(
      { symbols: Object.keys(prices) },
      { deadline: deadlineAfter(30_000) },
    );
    try {
      const received: SignedQuote__Output[] = [];
      const ticks = new Map<string, bigint[]>();
      stream.on('data', (q: SignedQuote__Output) => {
        received.push(q);
        ticks.set(q.symbol, [...(ticks.get(q.symbol) ?? []), BigInt(q.sequence)]);
      });
      stream.on('error', () => {});
      await waitFor('three quotes of each of the 200 symbols', () =>
        Object.keys(prices).every((s) => (ticks.get(s)?.length ?? 0) >= 3),
      ).catch((err: Error) => {
        throw new Error(
          `${err.message}: ${[...ticks.values()].filter((t) => t.length >= 3).length} had them`,
        );
      });
      // The snapshot first: each symbol once.
      expect(new Set(received.slice(0, 200).map((q) => q.symbol)).size).toBe(200);
      for (const [symbol, sequences] of ticks) {
        expect(received.find((q) => q.symbol === symbol)?.price).toBe(formatCents(prices[symbol] ?? 0n));
        for (let i = 1; i < sequences.length; i++)
          expect(sequences[i]).toBeGreaterThan(sequences[i - 1] ?? 0n);
      }
    } finally {
      stream.cancel();
      await wide.stop();
    }
  });
});
