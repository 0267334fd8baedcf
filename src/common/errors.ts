import { join } from 'node:path';
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { PROTO_DIR } from './paths.js';

/** The trailing-metadata entry that carries an error's machine-readable reason. */
const REASON_KEY = 'hedge-reason';
/** Where gRPC's rich error model puts a google.rpc.Status, for standard tooling to read. */
const STATUS_DETAILS_KEY = 'grpc-status-details-bin';
const ERROR_DOMAIN = 'hedge';
const ERROR_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.ErrorInfo';
const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';
/** gRPC's own trailer for "retry after this many ms" (its retry policy honours it). */
export const RETRY_PUSHBACK_KEY = 'grpc-retry-pushback-ms';

function retryInfo(type: protobuf.Type, ms: number): Uint8Array {
  const seconds = Math.floor(ms / 1000);
  return type.encode({ retry_delay: { seconds, nanos: (ms - seconds * 1000) * 1_000_000 } }).finish();
}

/**
 * An error meant to cross the wire: a precise gRPC status, a stable reason and a
 * message a person can act on. Anything else that escapes a handler is logged and
 * answered with a bare INTERNAL, so internals never leave the process.
 */
export class HedgeError extends Error {
  constructor(
    readonly code: status,
    readonly reason: string,
    message: string,
    /** The request field at fault, when one is. */
    readonly field?: string,
    /** For a limit: when the caller may try again (RetryInfo, and grpc-retry-pushback-ms). */
    readonly retryDelayMs?: number,
  ) {
    super(message);
    this.name = 'HedgeError';
  }
}

export function invalidArgument(reason: string, message: string, field?: string): HedgeError {
  return new HedgeError(status.INVALID_ARGUMENT, reason, message, field);
}

export function unauthenticated(reason: string, message: string): HedgeError {
  return new HedgeError(status.UNAUTHENTICATED, reason, message);
}

let rpcTypes: { Status: protobuf.Type; ErrorInfo: protobuf.Type; RetryInfo: protobuf.Type } | undefined;

/** google.rpc.Status and ErrorInfo from the vendored googleapis files (proto/third_party/google/rpc/). */
function googleRpc() {
  if (!rpcTypes) {
    const root = new protobuf.Root().loadSync(
      ['status.proto', 'error_details.proto'].map((f) => join(PROTO_DIR, 'third_party/google/rpc', f)),
      { keepCase: true },
    );
    rpcTypes = {
      Status: root.lookupType('google.rpc.Status'),
      ErrorInfo: root.lookupType('google.rpc.ErrorInfo'),
      RetryInfo: root.lookupType('google.rpc.RetryInfo'),
    };
  }
  return rpcTypes;
}

/** The error as a google.rpc.Status whose one detail is an ErrorInfo (reason, domain, field). */
function statusDetails(err: HedgeError): Buffer {
  const { Status, ErrorInfo, RetryInfo } = googleRpc();
  const info = ErrorInfo.encode({
    reason: err.reason,
    domain: ERROR_DOMAIN,
    metadata: err.field === undefined ? {} : { field: err.field },
  }).finish();
  return Buffer.from(
    Status.encode({
      code: err.code,
      message: err.message,
      details: [
        { type_url: ERROR_INFO_TYPE_URL, value: info },
        ...(err.retryDelayMs === undefined
          ? []
          : [{ type_url: RETRY_INFO_TYPE_URL, value: retryInfo(RetryInfo, err.retryDelayMs) }]),
      ],
    }).finish(),
  );
}

/** Wire forms already built: a HedgeError is immutable, and one sent often (TIED_LOSS) is built once. */
const wireForms = new WeakMap<HedgeError, Partial<ServiceError>>();

/** The reason twice: as `hedge-reason`, and in gRPC's rich error model for standard tooling. */
export function toServiceError(err: HedgeError): Partial<ServiceError> {
  let wire = wireForms.get(err);
  if (!wire) {
    wire = buildServiceError(err);
    wireForms.set(err, wire);
  }
  return wire;
}

function buildServiceError(err: HedgeError): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set(REASON_KEY, err.reason);
  metadata.set(STATUS_DETAILS_KEY, statusDetails(err));
  if (err.retryDelayMs !== undefined) metadata.set(RETRY_PUSHBACK_KEY, String(Math.ceil(err.retryDelayMs)));
  return { code: err.code, details: err.message, metadata };
}

/** What leaves a replica for a throw that is no HedgeError: logged there, a bug every replica would repeat. */
export const INTERNAL_ERROR = new HedgeError(
  status.INTERNAL,
  'INTERNAL',
  'internal error; the request may be retried with the same request id',
);

/** What leaves a replica while its database is restarting or unreachable: passing, so retried (decision 16). */
export const DATABASE_UNAVAILABLE = new HedgeError(
  status.UNAVAILABLE,
  'DATABASE_UNAVAILABLE',
  'the database is unavailable for the moment; retry with the same request id',
);

/** The reason a failed call carries, if the server gave one. */
export function reasonOf(err: { metadata?: Metadata }): string | undefined {
  const value = err.metadata?.get(REASON_KEY)[0];
  return typeof value === 'string' ? value : undefined;
}

/**
 * What a failed attempt means for the call (the one place that decides it):
 * - `final`: the application's answer, identical on every replica; the call ends with it.
 * - `retry`: this replica could not answer (gone, hung, overloaded, its database away);
 *   another replica, or this one later, may, and a retry with the same request id is safe.
 * - `retry-repeats`: retryable, but a live replica gives it again for the same request (a bug,
 *   an exhausted resource): once every replica of the view gave one, retrying would only hide it.
 */
export type Retryability = 'final' | 'retry' | 'retry-repeats';

export function retryability(code: status): Retryability {
  switch (code) {
    case status.UNAVAILABLE:
    case status.DEADLINE_EXCEEDED:
    case status.CANCELLED:
      return 'retry';
    case status.INTERNAL:
    case status.UNKNOWN:
    case status.RESOURCE_EXHAUSTED:
      return 'retry-repeats';
    default:
      return 'final';
  }
}

/** Whether a failure with this status means "ask another replica" rather than the application's answer. */
export function isRetryable(code: status): boolean {
  return retryability(code) !== 'final';
}
