import type { ClientUnaryCall, requestCallback } from '@grpc/grpc-js';

/**
 * A unary call as a promise. `start` makes the call with the callback it is given,
 * e.g. `invoke<Portfolio__Output>((cb) => client.GetPortfolio({}, md, { deadline }, cb))`,
 * so the call's own overloads type-check request, metadata and options.
 */
export function invoke<Res>(start: (callback: requestCallback<Res>) => ClientUnaryCall): Promise<Res> {
  return new Promise((resolve, reject) => {
    start((err, response) => (err ? reject(err) : resolve(response as Res)));
  });
}

export function deadlineAfter(ms: number): Date {
  return new Date(Date.now() + ms);
}
