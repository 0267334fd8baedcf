import { randomUUID } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';

/**
 * W3C trace-context (https://www.w3.org/TR/trace-context/) over gRPC metadata:
 * `traceparent: 00-<trace id, 32 hex>-<parent span id, 16 hex>-<flags>`. The
 * client makes one per logical call, so every copy and every retry of a request
 * carries the same trace id to every replica, which logs it and stores it with
 * the request in the database. No OpenTelemetry SDK: without an exporter it
 * would only parse this one header (decision in docs/decisions.md).
 */
export const TRACEPARENT_KEY = 'traceparent';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** A new sampled traceparent: a random trace id and parent span id (randomUUID's pooled entropy: cheap). */
export function newTraceparent(): string {
  const span = randomUUID();
  return `00-${randomUUID().replaceAll('-', '')}-${span.slice(0, 8)}${span.slice(9, 13)}${span.slice(14, 18)}-01`;
}

/** The trace id of a traceparent, or undefined for none or a malformed one (which the spec says to ignore). */
export function parseTraceId(traceparent: unknown): string | undefined {
  if (typeof traceparent !== 'string') return undefined;
  const m = TRACEPARENT.exec(traceparent);
  if (!m || m[1] === ZERO_TRACE || traceparent.slice(36, 52) === ZERO_SPAN) return undefined;
  return m[1];
}

/** The trace id a call's metadata carries, if any. */
export function traceIdOf(metadata: Metadata): string | undefined {
  return parseTraceId(metadata.get(TRACEPARENT_KEY)[0]);
}
