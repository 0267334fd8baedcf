import { afterAll, beforeAll } from 'vitest';

/**
 * A resource for the enclosing describe block: started before its tests and
 * stopped after them. The object returned is empty until the block's beforeAll
 * has run; from then on it is the started resource, getters included, so tests
 * read it as they would the resource itself.
 */
export function blockResource<T extends object>(
  start: () => Promise<T>,
  stop: (resource: T) => Promise<void>,
): T {
  const view = {} as T;
  let started: T | undefined;
  beforeAll(async () => {
    started = await start();
    Object.defineProperties(view, Object.getOwnPropertyDescriptors(started));
  });
  afterAll(async () => {
    if (started) await stop(started);
  });
  return view;
}
