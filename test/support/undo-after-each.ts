import { afterEach } from 'vitest';

/**
 * What a test started, undone after it: the function returned queues an undo
 * (close a client, shut a server down), and after each test the queue runs
 * newest first, so a client closes before the server it reached.
 */
export function undoAfterEach(): (undo: () => unknown) => void {
  const undos: (() => unknown)[] = [];
  afterEach(async () => {
    // Every undo runs, in order, even after one threw: a failed close leaves no server running.
    const failures: unknown[] = [];
    for (const undo of undos.splice(0).reverse()) {
      try {
        await undo();
      } catch (err) {
        failures.push(err);
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, `${failures.length} undos failed`);
  });
  return (undo) => {
    undos.push(undo);
  };
}
