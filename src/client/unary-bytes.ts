import { type Client, type Metadata, type StatusObject, status } from '@grpc/grpc-js';
import type { WireFailure } from './call-engine.js';

/**
 * One unary call of already encoded bytes, answered with the response's bytes, on
 * grpc-js's channel call without its client layer. That layer builds every failure
 * as an Error with three stack traces formatted (the caller's captured up front, and
 * two more): an active call's tied losses (tied-copies.ts) made it a fifth of the
 * client's CPU per loser. A failure here is a plain WireFailure. The client's
 * channels have no interceptors, so nothing else is skipped.
 */
export function unaryBytes(
  client: Client,
  path: string,
  request: Buffer,
  metadata: Metadata,
  deadline: Date,
  done: (err: WireFailure | null, response?: Buffer) => void,
): { cancel(): void } {
  const call = client.getChannel().createCall(path, deadline, undefined, null, undefined);
  let response: Buffer | undefined;
  call.start(metadata, {
    onReceiveMetadata: () => {},
    onReceiveMessage: (message: Buffer) => {
      if (response !== undefined) {
        call.cancelWithStatus(status.UNIMPLEMENTED, 'Too many responses received');
        return;
      }
      response = message;
    },
    onReceiveStatus: (s: StatusObject) => {
      if (s.code !== status.OK) done({ code: s.code, details: s.details, metadata: s.metadata });
      else if (response === undefined)
        done({ code: status.UNIMPLEMENTED, details: 'No message received', metadata: s.metadata });
      else done(null, response);
    },
  });
  call.startRead();
  call.sendMessageWithContext({}, request);
  call.halfClose();
  return { cancel: () => call.cancelWithStatus(status.CANCELLED, 'Cancelled on client') };
}
