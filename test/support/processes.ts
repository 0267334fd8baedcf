import { isAlive } from '../../src/common/process-state.js';

export { descendantsOf } from '../../src/common/process-tree.js';

export async function waitUntilGone(pids: number[], timeoutMs = 20_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    alive = alive.filter(isAlive);
  }
  return alive;
}

/**
 * Signals a process a test looked up. A lookup that found none fails the test: the usual
 * fallback, pid 0, would signal the test runner's own process group.
 */
export function signalFound(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined || pid <= 0) throw new Error(`no process found to send ${signal} to`);
  process.kill(pid, signal);
}
