import { startGrpcServer } from '../common/grpc-server.js';
import type { Logger } from '../common/logger.js';
import { hedgeProto, PROTO_FILES } from '../common/proto.js';
import { countTick } from './feed-metrics.js';
import { FeedService } from './feed-service.js';
import { PriceModel, type PriceModelOptions } from './price-model.js';
import { QuoteBook } from './quote-book.js';
import { loadOrCreateSigningKey } from './signing-key.js';

export interface FeedOptions extends PriceModelOptions {
  dataDir: string;
  /** Its key pair's directory under dataDir (default 'feed'). */
  name?: string;
  host: string;
  port: number;
  quoteTtlMs: number;
}

export interface RunningFeed {
  address: string;
  keyId: string;
  stop(): Promise<void>;
}

export async function runFeed(options: FeedOptions, log: Logger): Promise<RunningFeed> {
  const key = loadOrCreateSigningKey(options.dataDir, options.name);
  const model = new PriceModel(options);
  const service = new FeedService(model, new QuoteBook(model, key, options.quoteTtlMs), key, log);
  const started = await startGrpcServer(
    options.host,
    options.port,
    (server) => server.addService(hedgeProto().StockFeed.service, service.handlers()),
    { services: ['hedge.v1.StockFeed'], protoFiles: [PROTO_FILES.feed] },
  );
  // Ticks start on multiples of tickMs since the epoch (the model's tick
  // index), so feeds on one clock push each tick together.
  countTick();
  let ticker: NodeJS.Timeout | undefined;
  let ticking = true;
  const scheduleTick = () => {
    if (!ticking) return;
    const now = Date.now();
    const next = Number(model.tickStartMs(model.tickIndexAt(now) + 1n));
    // A timer can fire a millisecond early: aim just past the boundary.
    ticker = setTimeout(
      () => {
        service.tick();
        countTick();
        scheduleTick();
      },
      Math.min(next - now + 1, 2 ** 31 - 1),
    );
  };
  scheduleTick();
  log.info(
    {
      address: started.address,
      keyId: key.publicKey.keyId,
      symbols: model.symbols().length,
      mode: options.mode,
    },
    'stock feed serving',
  );
  return {
    address: started.address,
    keyId: key.publicKey.keyId,
    stop: async () => {
      ticking = false;
      clearTimeout(ticker);
      service.endStreams();
      await started.shutdown(2_000);
    },
  };
}
