import { type Metadata, status } from '@grpc/grpc-js';
import { HedgeError, reasonOf } from './errors.js';

/**
 * Tied copies ("The Tail at Scale", Dean and Barroso): the client sends the copies
 * of a call together and marks them with this metadata entry. A marked copy that
 * finds a sibling executing its request id, or its answer stored, answers TIED_LOSS
 * at once (sql/execution.sql) instead of waiting for the sibling's commit and
 * reading the stored answer: no session read, no answer read, decoded, encoded and
 * sent back. The client ignores the answer while a sibling is in flight, and sends
 * unmarked copies, which wait for the claim and read the answer, if every copy
 * ended without one (the sibling's replica failed after it claimed the id).
 */
export const TIED_KEY = 'hedge-tied';

export const TIED_LOSS_REASON = 'TIED_COPY_LOST';

/** One instance: its wire form is built once (errors.ts), for every losing copy. */
export const TIED_LOSS = new HedgeError(
  status.ABORTED,
  TIED_LOSS_REASON,
  'another copy of this request sent with this one is executing it or has executed it; that copy’s answer is the request’s',
);

/** Whether the call's copies are tied (the client's mark). */
export function isTied(metadata: Metadata): boolean {
  return metadata.get(TIED_KEY)[0] === '1';
}

/** Whether a failed attempt is a tied copy that lost: no answer, and no fault of its replica. */
export function isTiedLoss(err: { code: status; metadata?: Metadata }): boolean {
  return err.code === status.ABORTED && reasonOf(err) === TIED_LOSS_REASON;
}
