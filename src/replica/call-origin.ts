import type { Metadata } from '@grpc/grpc-js';
import { isTied } from '../common/tied-copies.js';
import { traceIdOf } from '../common/trace-context.js';

/** What a call's metadata says about where it comes from, as the executor takes it. */
export interface CallOrigin {
  /** The client's trace id, stored with the request by the copy that claims it. */
  traceId?: string;
  /** The client sent this copy with tied siblings (src/common/tied-copies.ts). */
  tied: boolean;
}

export function callOrigin(metadata: Metadata): CallOrigin {
  return { traceId: traceIdOf(metadata), tied: isTied(metadata) };
}
