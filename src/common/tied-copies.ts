import { type Metadata, status } from '@grpc/grpc-js';
import { HedgeError, reasonOf } from './errors.js';

/**
 * Tied copies ("The Tail at Scale", Dean and Barroso): the client sends the copies
 * of a call together and marks them with this metadata entry. A marked copy that
 * finds a sibling already executing its request id answers TIED_LOSS at once
 * (sql/execution.sql) instead of waiting for the sibling's commit to read the
 * stored answer: it frees its database connection at once and sends no body back.
 * The client ignores the answer while the sibling is in flight, and sends an
 * unmarked copy, which waits for the claim, if every copy ended without an answer.
 */
export const TIED_KEY = 'hedge-tied';

export const TIED_LOSS_REASON = 'IN_PROGRESS_ELSEWHERE';

/** One instance: its wire form is built once (errors.ts), for every losing copy. */
export const TIED_LOSS = new HedgeError(
  status.ABORTED,
  TIED_LOSS_REASON,
  'another copy of this request is executing on another replica; its answer is the request’s',
);

/** Whether the call's copies are tied (the client's mark). */
export function isTied(metadata: Metadata): boolean {
  return metadata.get(TIED_KEY)[0] === '1';
}

/** Whether a failed attempt is a tied copy that lost: no answer, and no fault of its replica. */
export function isTiedLoss(err: { code: status; metadata?: Metadata }): boolean {
  return err.code === status.ABORTED && reasonOf(err) === TIED_LOSS_REASON;
}
