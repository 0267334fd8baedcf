import { Client, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { reasonOf } from '../../src/common/errors.js';
import { hedgeProto } from '../../src/common/proto.js';
import { deadlineAfter } from '../../src/common/rpc.js';
import type { TradeRequest } from '../../src/gen/hedge/v1/TradeRequest.js';
import { channelCredentials } from '../../src/tls/transport.js';

export type RawResult =
  | { ok: true; bytes: Buffer }
  | { ok: false; code: number; reason: string | undefined; details: string };

/**
 * A Buy sent to one replica on a channel of its own, its answer kept as the bytes
 * that crossed the wire: copies of one request can be compared byte for byte.
 * The metadata says what the copy is (a session, marked tied or not).
 */
export function rawBuy(address: string, metadata: Metadata, request: TradeRequest): Promise<RawResult> {
  const method = hedgeProto().Trading.service.Buy;
  const client = new Client(address, channelCredentials());
  return new Promise<RawResult>((resolve) => {
    client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      (bytes: Buffer) => bytes,
      request,
      metadata,
      { deadline: deadlineAfter(30_000) },
      (err: ServiceError | null, bytes?: Buffer) => {
        resolve(
          err
            ? { ok: false, code: err.code, reason: reasonOf(err), details: err.details }
            : { ok: true, bytes: bytes as Buffer },
        );
      },
    );
  }).finally(() => client.close());
}
