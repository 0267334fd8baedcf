import { rmSync } from 'node:fs';
import { createLogger } from '../../src/common/logger.js';
import { feedKeyPaths, makeTempDataDir } from '../../src/common/paths.js';
import { hedgeProto } from '../../src/common/proto.js';
import { deadlineAfter, invoke } from '../../src/common/rpc.js';
import type { SignedQuote__Output } from '../../src/gen/hedge/v1/SignedQuote.js';
import type { StockFeedClient } from '../../src/gen/hedge/v1/StockFeed.js';
import { signQuote } from '../../src/stock-feed/quote-book.js';
import { type RunningFeed, runFeed } from '../../src/stock-feed/run-feed.js';
import { loadOrCreateSigningKey, type SigningKey } from '../../src/stock-feed/signing-key.js';
import { channelCredentials } from '../../src/tls/transport.js';
import { blockResource } from './block-resource.js';

export interface TestFeed {
  address: string;
  dataDir: string;
  publicKeyPath: string;
  key: SigningKey;
  client: StockFeedClient;
  quote(symbol: string): Promise<SignedQuote__Output>;
  stop(): Promise<void>;
}

/** A quote for `symbol` the feed really signed, but that expired 10 s ago. */
export function expiredQuote(feed: TestFeed, symbol: string, priceCents: bigint): SignedQuote__Output {
  const now = BigInt(Date.now());
  return signQuote(
    {
      symbol,
      priceCents,
      issuedAtMs: now - 20_000n,
      expiresAtMs: now - 10_000n,
      sequence: 1n,
      keyId: feed.key.publicKey.keyId,
    },
    feed.key.privateKey,
  );
}

export const TEST_PRICES: Record<string, bigint> = { ABC: 1_000n, DEF: 2_550n, GHI: 99n, JKL: 123_456n };

/**
 * A real feed server on port 0 in this process, in fixed-price mode, with its
 * data directory (and key pair) in a fresh temporary directory.
 */
export interface TestFeedOptions {
  quoteTtlMs?: number;
  tickMs?: number;
  /** Quote any well-formed symbol (workloads name hundreds), at seeded fixed prices. */
  anySymbol?: boolean;
  prices?: Record<string, bigint>;
  /** Run on this data directory and leave it on stop (a restart), instead of a fresh temporary one. */
  dataDir?: string;
  /** Listen on this port (a restart on the address clients have) instead of a free one. */
  port?: number;
  /** 'walk' moves prices on every tick (a live ticker); 'fixed' (the default) never does. */
  mode?: 'walk' | 'fixed';
  /** Listen on this address instead of 127.0.0.1 (a simulated network's gateway). */
  host?: string;
}

export async function startTestFeed(options: TestFeedOptions = {}): Promise<TestFeed> {
  const dataDir = options.dataDir ?? makeTempDataDir('hedge-test-feed-');
  const removeDataDir = () => {
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  let feed: RunningFeed;
  try {
    feed = await runFeed(
      {
        dataDir,
        host: options.host ?? '127.0.0.1',
        port: options.port ?? 0,
        symbols: Object.keys(options.prices ?? TEST_PRICES),
        initialPrices: new Map(Object.entries(options.prices ?? TEST_PRICES)),
        anySymbol: options.anySymbol ?? false,
        seed: 7,
        mode: options.mode ?? 'fixed',
        tickMs: options.tickMs ?? 1_000,
        quoteTtlMs: options.quoteTtlMs ?? 10_000,
      },
      createLogger('test-feed'),
    );
  } catch (err) {
    removeDataDir();
    throw err;
  }
  const client = new (hedgeProto().StockFeed)(feed.address, channelCredentials());
  return {
    address: feed.address,
    dataDir,
    publicKeyPath: feedKeyPaths(dataDir).publicKey,
    key: loadOrCreateSigningKey(dataDir),
    client,
    quote: (symbol) =>
      invoke<SignedQuote__Output>((cb) =>
        client.GetQuote({ symbol }, { deadline: deadlineAfter(5_000) }, cb),
      ),
    stop: async () => {
      client.close();
      await feed.stop();
      removeDataDir();
    },
  };
}

/** A test feed for the enclosing describe block, stopped after its tests. */
export const useTestFeed = (options: TestFeedOptions = {}): TestFeed =>
  blockResource(
    () => startTestFeed(options),
    (feed) => feed.stop(),
  );
