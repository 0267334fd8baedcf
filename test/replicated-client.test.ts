import { Metadata, Server, type ServerWritableStream, type sendUnaryData, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { DayTradingSession } from '../src/client/day-trading-session.js';
import { ReplicatedCallError } from '../src/client/replicated-client.js';
import type { ReplicationMode } from '../src/client/replication-mode.js';
import { TradingSession } from '../src/client/trading-session.js';
import { hedgeProto } from '../src/common/proto.js';
import type { DumpLogResult } from '../src/gen/hedge/v1/DumpLogResult.js';
import type { LogChunk, LogChunk__Output } from '../src/gen/hedge/v1/LogChunk.js';
import type { Portfolio } from '../src/gen/hedge/v1/Portfolio.js';
import type { StreamLogRequest__Output } from '../src/gen/hedge/v1/StreamLogRequest.js';
import { type Behaviour, listen, useFakeReplicas } from './support/fake-replicas.js';

const GET_PORTFOLIO = hedgeProto().Trading.service.GetPortfolio;

describe('the replicated client against real gRPC servers', () => {
  const { replicas, connect, connectToAll } = useFakeReplicas();

  const setUp = (mode: ReplicationMode, behaviours: Behaviour[], hedgeDelayMs?: number) =>
    connect(behaviours, { mode, hedgeSize: 2, hedgeDelayMs });

  async function failure(promise: Promise<unknown>): Promise<ReplicatedCallError> {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ReplicatedCallError);
    return err as ReplicatedCallError;
  }

  it.each(['active', 'passive', 'hedged'] as const)(
    '%s: INTERNAL from every replica ends the call with INTERNAL instead of retrying to the deadline',
    async (mode) => {
      const client = await setUp(mode, ['internal', 'internal', 'internal']);
      const err = await failure(client.call(GET_PORTFOLIO, {}));
      expect(err.code).toBe(status.INTERNAL);
      expect(err.details).toBe('the same bug on every replica');
      // Each replica was asked once: no retry rounds.
      expect(replicas.map((r) => r.calls)).toEqual([1, 1, 1]);
      expect(err.telemetry.failures.map((f) => f.replica).sort()).toEqual(['r1', 'r2', 'r3']);
    },
  );

  it.each(['active', 'passive', 'hedged'] as const)(
    '%s: INTERNAL from some replicas, an answer from another: the answer is used',
    async (mode) => {
      const client = await setUp(mode, ['internal', 'internal', 'ok']);
      const result = await client.call<Portfolio>(GET_PORTFOLIO, {});
      expect(result.response.account?.cash).toBe('7');
      expect(result.telemetry.answeredBy).toBe('r3');
    },
  );

  it('hedged: replicas held back are asked after the hedge delay when the first ones stay silent', async () => {
    const client = await setUp('hedged', ['silent', 'silent', 'ok'], 50);
    const started = performance.now();
    const result = await client.call<Portfolio>(GET_PORTFOLIO, {});
    expect(result.telemetry.answeredBy).toBe('r3');
    expect(result.telemetry.attempts).toBe(3);
    expect(replicas.map((r) => r.calls)).toEqual([1, 1, 1]);
    // Held back for the hedge delay, not sent with the first two (a lower bound: a busy machine only delays it).
    expect((replicas[2]?.calledAt[0] ?? 0) - started).toBeGreaterThanOrEqual(45);
  });

  it('close() ends calls in flight with CANCELLED and refuses new ones', async () => {
    const client = await setUp('active', ['silent', 'silent', 'silent']);
    const inFlight = failure(client.call(GET_PORTFOLIO, {}));
    while (replicas.some((r) => r.calls === 0)) await new Promise((r) => setTimeout(r, 5));
    client.close();
    const err = await inFlight;
    expect(err.code).toBe(status.CANCELLED);
    const later = await failure(client.call(GET_PORTFOLIO, {}));
    expect(later.code).toBe(status.CANCELLED);
    expect(later.telemetry.attempts).toBe(0);
    expect(replicas.map((r) => r.calls)).toEqual([1, 1, 1]);
  });

  /**
   * Writes the chunk after the one the request resumes from: one event a chunk, `<log>` before the first
   * and `</log>` after the last. Returns whether it was the last.
   */
  function writeNextChunk(
    call: ServerWritableStream<StreamLogRequest__Output, LogChunk>,
    events: string[],
  ): boolean {
    const after = Number(call.request.after_event_id);
    const last = after + 1 === events.length;
    call.write({
      xml: `${after === 0 ? '<log>' : ''}${events[after]}${last ? '</log>' : ''}`,
      last_event_id: String(after + 1),
      last,
    });
    return last;
  }

  /** A day-trading session, in active mode, over two replicas that answer DumpLog and stream the log with `streamLog`. */
  async function logStreamingReplicas(
    streamLog: (call: ServerWritableStream<StreamLogRequest__Output, LogChunk>) => void,
  ): Promise<DayTradingSession> {
    for (let i = 0; i < 2; i++) {
      const server = new Server();
      server.addService(hedgeProto().DayTrading.service, {
        DumpLog: (_call: unknown, callback: sendUnaryData<DumpLogResult>) =>
          callback(null, { upto_event_id: '2', whole_log: true, filename: 'log.xml' }),
        StreamLog: streamLog,
      });
      replicas.push({ address: await listen(server), calls: 0, calledAt: [], server, pending: [] });
    }
    const client = await connectToAll({ mode: 'active' });
    return new DayTradingSession(new TradingSession(client));
  }

  it('DUMPLOG: a replica failing right after the chunk that ends the log is not asked to resume', async () => {
    // Two replicas whose stream breaks after each chunk, as a SIGKILL between the last write and the status does.
    const requests: StreamLogRequest__Output[] = [];
    const events = ['<userCommand>1</userCommand>', '<userCommand>2</userCommand>'];
    const session = await logStreamingReplicas((call) => {
      requests.push(call.request);
      writeNextChunk(call, events);
      setTimeout(() => call.emit('error', { code: status.UNAVAILABLE, details: 'killed' }), 20);
    });
    let xml = '';
    await session.dumpLog('log.xml', true, 1, (chunk: string) => {
      xml += chunk;
    });
    expect(xml).toBe(`<log>${events.join('')}</log>`);
    expect(requests.map((r) => r.after_event_id)).toEqual(['0', '1']);
  });

  it('DUMPLOG: a replica that goes silent mid-stream is abandoned after the idle timeout, and another resumes after the last chunk', async () => {
    const requests: StreamLogRequest__Output[] = [];
    const events = ['<userCommand>1</userCommand>', '<userCommand>2</userCommand>'];
    // The first attempt gets one chunk and then nothing (its replica cut off); the next one ends the log.
    await logStreamingReplicas((call) => {
      requests.push(call.request);
      if (writeNextChunk(call, events)) call.end();
    });
    const client = await connectToAll({ mode: 'passive' });
    let xml = '';
    const result = await client.readStream<LogChunk__Output>(
      {
        method: hedgeProto().DayTrading.service.StreamLog,
        request: (last) => ({
          upto_event_id: '2',
          after_event_id: last?.last_event_id ?? '0',
          whole_log: true,
        }),
        metadata: new Metadata(),
        take: (chunk) => {
          xml += chunk.xml;
        },
        isLast: (chunk) => chunk.last,
        idleMs: 300,
      },
      60_000,
    );
    expect(xml).toBe(`<log>${events.join('')}</log>`);
    expect(requests.map((r) => r.after_event_id)).toEqual(['0', '1']);
    expect(result.telemetry.failures).toMatchObject([{ replica: 'r1', code: status.DEADLINE_EXCEEDED }]);
    expect(result.telemetry.answeredBy).toBe('r2');
  });

  it('DUMPLOG: a sink that fails ends the dump with its own error; no replica is asked to resume', async () => {
    const requests: StreamLogRequest__Output[] = [];
    const session = await logStreamingReplicas((call) => {
      requests.push(call.request);
      call.write({ xml: '<log>', last_event_id: '1', last: false });
      setTimeout(() => call.emit('error', { code: status.UNAVAILABLE, details: 'killed' }), 20);
    });
    const diskFull = new Error('no space left on device');
    const err = await session
      .dumpLog('log.xml', true, 1, () => Promise.reject(diskFull))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBe(diskFull);
    expect(requests.map((r) => r.after_event_id)).toEqual(['0']);
  });
});
