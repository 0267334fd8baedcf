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
  host: string;
  port: number;
  tickMs: number;
  quoteTtlMs: number;
}

export interface RunningFeed {
  address: string;
  keyId: string;
  stop(): Promise<void>;
}

export async function runFeed(options: FeedOptions, log: Logger): Promise<RunningFeed> {
  const key = loadOrCreateSigningKey(options.dataDir);
  const model = new PriceModel(options);
  const service = new FeedService(model, new QuoteBook(model, key, options.quoteTtlMs), key, log);
  const started = await startGrpcServer(
    options.host,
    options.port,
    (server) => server.addService(hedgeProto().StockFeed.service, service.handlers()),
    { services: ['hedge.v1.StockFeed'], protoFiles: [PROTO_FILES.feed] },
  );
  countTick();
  const ticker = setInterval(() => {
    service.tick();
    countTick();
  }, options.tickMs);
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
      clearInterval(ticker);
      service.endStreams();
      await started.shutdown(2_000);
    },
  };
}
