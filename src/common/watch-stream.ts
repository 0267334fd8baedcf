import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import { Backoff, type BackoffPolicy } from './backoff.js';
import type { Logger } from './logger.js';

export interface WatchOptions<T> {
  /** Opens the stream (again); called at once, then after each loss and its back-off. */
  open: () => ClientReadableStream<T>;
  onData: (message: T) => void;
  /** As each stream opens, before its first message: where state kept per stream starts afresh. */
  onOpen?: () => void;
  /** When a stream ends or fails (not when closed), before the wait to reopen it. */
  onReset?: (err: ServiceError | undefined) => void;
  /** Restarted by every message, so it paces a run of failures, not a stream's life. */
  backoff: BackoffPolicy;
  log?: Logger;
  /** Names the stream in the log. */
  name?: string;
}

export interface Watch {
  /** Cancels the stream and any pending reopen; nothing is called after it. */
  close(): void;
}

/**
 * A server stream kept open: reopened with back-off after it ends or fails. At most
 * one stream is open or pending at a time: a stream's events are heeded only while
 * it is the current one, and a loss schedules one reopen (a stream may report both
 * an error and an end). To follow other arguments, close this watch and start another.
 */
export function watch<T>(options: WatchOptions<T>): Watch {
  const backoff = new Backoff(options.backoff);
  let current: ClientReadableStream<T> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const open = (): void => {
    timer = undefined;
    if (closed) return;
    const stream = options.open();
    current = stream;
    options.onOpen?.();
    stream.on('data', (message: T) => {
      if (stream !== current) return;
      backoff.reset();
      options.onData(message);
    });
    const lost = (err?: ServiceError): void => {
      if (closed || stream !== current) return;
      current = undefined;
      options.onReset?.(err);
      const delayMs = backoff.next();
      options.log?.debug(
        { stream: options.name, err: err?.message, delayMs },
        'stream lost; reopening it after back-off',
      );
      timer = setTimeout(open, delayMs);
    };
    stream.on('error', (err: ServiceError) => lost(err));
    stream.on('end', () => lost());
  };

  open();
  return {
    close: () => {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      const stream = current;
      current = undefined;
      stream?.cancel();
    },
  };
}
