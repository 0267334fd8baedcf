import { resolve } from 'node:path';
import { type GrpcObject, loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';
import type { ProtoGrpcType as AgentProto } from '../gen/agent.js';
import type { ProtoGrpcType as DayTradingProto } from '../gen/day_trading.js';
import type { ProtoGrpcType as FeedProto } from '../gen/feed.js';
import type { ProtoGrpcType as ManagerProto } from '../gen/manager.js';
import type { ProtoGrpcType as ReplicaAdminProto } from '../gen/replica_admin.js';
import type { ProtoGrpcType as TradingProto } from '../gen/trading.js';
import { PROTO_DIR } from './paths.js';

/**
 * These options must match those the types in src/gen were generated with
 * (scripts/gen-proto-types.mjs): int64 as decimal strings (never a float), enums
 * as their names, field names as written in the .proto files.
 */
const LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

/** The wire contract, one file per service (quote.proto holds the message they share). */
export const PROTO_FILES = {
  feed: 'hedge/v1/feed.proto',
  trading: 'hedge/v1/trading.proto',
  manager: 'hedge/v1/manager.proto',
  replicaAdmin: 'hedge/v1/replica_admin.proto',
  dayTrading: 'hedge/v1/day_trading.proto',
  agent: 'hedge/v1/agent.proto',
} as const;

type Merge<A, B> = {
  hedge: {
    v1: A extends { hedge: { v1: infer X } } ? (B extends { hedge: { v1: infer Y } } ? X & Y : never) : never;
  };
};
export type HedgeProto = Merge<
  Merge<Merge<Merge<FeedProto, TradingProto>, Merge<ManagerProto, ReplicaAdminProto>>, DayTradingProto>,
  AgentProto
>;

let proto: HedgeProto | undefined;

/** Service definitions and client constructors of package hedge.v1. */
export function hedgeProto(): HedgeProto['hedge']['v1'] {
  proto ??= loadPackageDefinition(
    loadProtoFiles(Object.values(PROTO_FILES)),
  ) as GrpcObject as unknown as HedgeProto;
  return proto.hedge.v1;
}

/** The definitions of these files (and what they import): what reflection describes for a server. */
export function loadProtoFiles(files: string[]): PackageDefinition {
  return loadSync(
    files.map((f) => resolve(PROTO_DIR, f)),
    LOADER_OPTIONS,
  );
}
