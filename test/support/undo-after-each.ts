import { afterEach } from 'vitest';

/**
 * What a test started, undone after it: the function returned queues an undo
 * (close a client, shut a server down), and after each test the queue runs
 * newest first, so a client closes before the server it reached.
 */
export function undoAfterEach(): (undo: () => unknown) => void {
  const undos: (() => unknown)[] = [];
  afterEach(async () => {
    for (const undo of undos.splice(0).reverse()) await undo();
  });
  return (undo) => {
    undos.push(undo);
  };
}
