import { spawn } from 'node:child_process';
import { exited } from '../common/hedge-process.js';

export interface CpuHogs {
  pids: number[];
  stop(): Promise<void>;
}

/**
 * `count` processes that spin forever, each taking a core from whatever else
 * runs: the bench's overload mode puts them beside the system to starve it.
 */
export function startCpuHogs(count: number): CpuHogs {
  const children = Array.from({ length: count }, () =>
    spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
  );
  return {
    pids: children.flatMap((c) => (c.pid === undefined ? [] : [c.pid])),
    stop: async () => {
      for (const c of children) c.kill('SIGKILL');
      await Promise.all(children.map(exited));
    },
  };
}
