import { join } from 'node:path';
import { type Client, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reasonOf } from '../src/common/errors.js';
import { uuidv7 } from '../src/common/ids.js';
import { PROTO_DIR } from '../src/common/paths.js';
import { hedgeProto } from '../src/common/proto.js';
import { deadlineAfter, invoke } from '../src/common/rpc.js';
import { newSessionToken } from '../src/common/session-token.js';
import type { DayTradingClient } from '../src/gen/hedge/v1/DayTrading.js';
import type { SignedQuote__Output } from '../src/gen/hedge/v1/SignedQuote.js';
import type { TradingClient } from '../src/gen/hedge/v1/Trading.js';
import type { RunningReplica } from '../src/replica/run-replica.js';
import { channelCredentials } from '../src/tls/transport.js';
import { useTestDatabase } from './support/database.js';
import { useTestFeed } from './support/feed.js';
import { startInProcessReplica } from './support/replicas.js';
import { Trader, tradingClient } from './support/trader.js';

/** A call's failure as the wire carried it, trailing metadata included. */
type Failure = { code: number; reason: string | undefined; details: string; metadata: Metadata };

function callUnary(client: Client, method: string, request: object, metadata: Metadata): Promise<Failure> {
  const fn = (client as unknown as Record<string, (...args: unknown[]) => unknown>)[method];
  if (!fn) throw new Error(`no method ${method}`);
  return new Promise((resolve, reject) => {
    fn.call(client, request, metadata, { deadline: deadlineAfter(10_000) }, (err: ServiceError | null) =>
      err
        ? resolve({ code: err.code, reason: reasonOf(err), details: err.details, metadata: err.metadata })
        : reject(new Error(`${method} succeeded`)),
    );
  });
}

function callStream(client: DayTradingClient, metadata: Metadata): Promise<Failure> {
  return new Promise((resolve, reject) => {
    const stream = client.StreamLog({ upto_event_id: '0' }, metadata, { deadline: deadlineAfter(10_000) });
    stream.on('data', () => {});
    stream.on('error', (err: ServiceError) =>
      resolve({ code: err.code, reason: reasonOf(err), details: err.details, metadata: err.metadata }),
    );
    stream.on('end', () => reject(new Error('StreamLog succeeded')));
  });
}

const bearer = (token: string) => {
  const m = new Metadata();
  m.set('authorization', `Bearer ${token}`);
  return m;
};

describe('the wire contract: session states and error details', () => {
  const db = useTestDatabase();
  const feed = useTestFeed();
  let replica: RunningReplica;
  let trading: TradingClient;
  let dayTrading: DayTradingClient;
  let quote: SignedQuote__Output;

  beforeAll(async () => {
    replica = await startInProcessReplica({ databaseUrl: db.url, feedPublicKeyPath: feed.publicKeyPath });
    trading = tradingClient(replica.address);
    dayTrading = new (hedgeProto().DayTrading)(replica.address, channelCredentials());
    quote = await feed.quote('ABC');
  });

  afterAll(async () => {
    trading?.close();
    dayTrading?.close();
    await replica?.stop();
  });

  /** Every RPC of hedge.v1.Trading and hedge.v1.DayTrading that takes a token, with input it would accept. */
  const tokenRpcs: [string, (m: Metadata) => Promise<Failure>][] = [
    ['Trading.Logout', (m) => callUnary(trading, 'Logout', { request_id: uuidv7() }, m)],
    ['Trading.Deposit', (m) => callUnary(trading, 'Deposit', { request_id: uuidv7(), amount: '5.00' }, m)],
    [
      'Trading.Buy',
      (m) => callUnary(trading, 'Buy', { request_id: uuidv7(), symbol: 'ABC', shares: 1, quote }, m),
    ],
    [
      'Trading.Sell',
      (m) => callUnary(trading, 'Sell', { request_id: uuidv7(), symbol: 'ABC', shares: 1, quote }, m),
    ],
    ['Trading.GetPortfolio', (m) => callUnary(trading, 'GetPortfolio', {}, m)],
    ['Trading.ListTrades', (m) => callUnary(trading, 'ListTrades', { limit: 10 }, m)],
    ['DayTrading.Add', (m) => callUnary(dayTrading, 'Add', { request_id: uuidv7(), amount: '5.00' }, m)],
    [
      'DayTrading.Quote',
      (m) => callUnary(dayTrading, 'Quote', { request_id: uuidv7(), symbol: 'ABC', quote }, m),
    ],
    ...(['Buy', 'Sell'] as const).map((rpc): [string, (m: Metadata) => Promise<Failure>] => [
      `DayTrading.${rpc}`,
      (m) => callUnary(dayTrading, rpc, { request_id: uuidv7(), symbol: 'ABC', amount: '50.00', quote }, m),
    ]),
    ...(['CommitBuy', 'CancelBuy', 'CommitSell', 'CancelSell', 'DisplaySummary'] as const).map(
      (rpc): [string, (m: Metadata) => Promise<Failure>] => [
        `DayTrading.${rpc}`,
        (m) => callUnary(dayTrading, rpc, { request_id: uuidv7() }, m),
      ],
    ),
    ...(['SetBuyAmount', 'SetSellAmount'] as const).map(
      (rpc): [string, (m: Metadata) => Promise<Failure>] => [
        `DayTrading.${rpc}`,
        (m) => callUnary(dayTrading, rpc, { request_id: uuidv7(), symbol: 'ABC', amount: '50.00' }, m),
      ],
    ),
    ...(['SetBuyTrigger', 'SetSellTrigger'] as const).map(
      (rpc): [string, (m: Metadata) => Promise<Failure>] => [
        `DayTrading.${rpc}`,
        (m) => callUnary(dayTrading, rpc, { request_id: uuidv7(), symbol: 'ABC', price: '9.00' }, m),
      ],
    ),
    ...(['CancelSetBuy', 'CancelSetSell'] as const).map(
      (rpc): [string, (m: Metadata) => Promise<Failure>] => [
        `DayTrading.${rpc}`,
        (m) => callUnary(dayTrading, rpc, { request_id: uuidv7(), symbol: 'ABC' }, m),
      ],
    ),
    [
      'DayTrading.DumpLog',
      (m) => callUnary(dayTrading, 'DumpLog', { request_id: uuidv7(), filename: 'log.xml' }, m),
    ],
    ['DayTrading.StreamLog', (m) => callStream(dayTrading, m)],
  ];

  /** A token in each dead state: never issued, logged out, expired. */
  const states: [string, () => Promise<string>][] = [
    ['never existed', async () => newSessionToken()],
    [
      'logged out',
      async () => {
        const t = await Trader.open(trading);
        await invoke((cb) =>
          trading.Logout({ request_id: uuidv7() }, t.metadata, { deadline: deadlineAfter(10_000) }, cb),
        );
        return t.login.session_token;
      },
    ],
    [
      'expired',
      async () => {
        const t = await Trader.open(trading);
        await db.pool.query(
          "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1",
          [t.login.user_id],
        );
        return t.login.session_token;
      },
    ],
  ];

  it.each(states)(
    'a token that %s gets UNAUTHENTICATED, SESSION_INVALID on every RPC',
    async (_state, make) => {
      const token = await make();
      const answers: Record<string, [number, string | undefined]> = {};
      for (const [rpc, call] of tokenRpcs) {
        const failure = await call(bearer(token));
        answers[rpc] = [failure.code, failure.reason];
      }
      expect(answers).toEqual(
        Object.fromEntries(tokenRpcs.map(([rpc]) => [rpc, [status.UNAUTHENTICATED, 'SESSION_INVALID']])),
      );
    },
  );

  /** The test's own decoder: protobufjs over the vendored googleapis files, nothing of the replica's. */
  function decodeStatus(metadata: Metadata) {
    const root = new protobuf.Root().loadSync(
      ['status.proto', 'error_details.proto'].map((f) => join(PROTO_DIR, 'third_party/google/rpc', f)),
    );
    const [bytes] = metadata.get('grpc-status-details-bin');
    expect(Buffer.isBuffer(bytes)).toBe(true);
    const decoded = root
      .lookupType('google.rpc.Status')
      .toObject(root.lookupType('google.rpc.Status').decode(bytes as Buffer)) as {
      code: number;
      message: string;
      details: { type_url: string; value: Uint8Array }[];
    };
    const errorInfo = root.lookupType('google.rpc.ErrorInfo');
    return {
      code: decoded.code,
      message: decoded.message,
      details: decoded.details.map((d) => ({
        typeUrl: d.type_url,
        info: errorInfo.toObject(errorInfo.decode(d.value), { objects: true }),
      })),
    };
  }

  it('every error carries google.rpc.Status with an ErrorInfo in grpc-status-details-bin', async () => {
    const trader = await Trader.open(trading);
    // A fresh quote: the one from beforeAll may have expired (10 s) on a loaded machine.
    quote = await feed.quote('ABC');
    const cases: [string, Promise<Failure>, number, string, Record<string, string>][] = [
      [
        'a malformed amount',
        callUnary(trading, 'Deposit', { request_id: uuidv7(), amount: '1.001' }, trader.metadata),
        status.INVALID_ARGUMENT,
        'INVALID_AMOUNT',
        { field: 'amount' },
      ],
      [
        'a tampered quote',
        callUnary(
          trading,
          'Buy',
          { request_id: uuidv7(), symbol: 'ABC', shares: 1, quote: { ...quote, price: '0.01' } },
          trader.metadata,
        ),
        status.INVALID_ARGUMENT,
        'BAD_SIGNATURE',
        { field: 'quote.signature' },
      ],
      [
        'a tampered quote on a day-trading command',
        callUnary(
          dayTrading,
          'Quote',
          { request_id: uuidv7(), symbol: 'ABC', quote: { ...quote, price: '0.02' } },
          trader.metadata,
        ),
        status.INVALID_ARGUMENT,
        'BAD_SIGNATURE',
        { field: 'quote.signature' },
      ],
      [
        'a day-trading command refused for its input, stored as its answer',
        callUnary(dayTrading, 'Add', { request_id: uuidv7(), amount: '-5' }, trader.metadata),
        status.INVALID_ARGUMENT,
        'INVALID_AMOUNT',
        { field: 'amount' },
      ],
      [
        'a refusal decided in SQL',
        callUnary(trading, 'Buy', { request_id: uuidv7(), symbol: 'ABC', shares: 1, quote }, trader.metadata),
        status.FAILED_PRECONDITION,
        'INSUFFICIENT_FUNDS',
        {},
      ],
      [
        'a stream refused',
        callStream(dayTrading, bearer(newSessionToken())),
        status.UNAUTHENTICATED,
        'SESSION_INVALID',
        {},
      ],
    ];
    for (const [label, call, code, reason, metadata] of cases) {
      const failure = await call;
      expect([label, failure.code, failure.reason]).toEqual([label, code, reason]);
      expect(decodeStatus(failure.metadata)).toEqual({
        code,
        message: failure.details,
        details: [
          {
            typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo',
            info: { reason, domain: 'hedge', metadata },
          },
        ],
      });
    }
  });
});
