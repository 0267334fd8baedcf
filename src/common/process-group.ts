import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { type ReadyMessage, type SpawnedHedgeProcess, spawnHedge, stopChild } from './hedge-process.js';

interface Member {
  name: string;
  process: SpawnedHedgeProcess;
  /** Set when its exit is asked for, so it is not reported as unexpected. */
  stopping?: boolean;
}

/**
 * Hedge processes started together: each with a lifeline to this process (so
 * none outlives it, however it ends), its output in <logDir>/<name>.log, and
 * stopped in the reverse order of starting.
 */
export class ProcessGroup {
  private readonly members: Member[] = [];
  private stopping = false;
  private readonly onExit: ((name: string, description: string) => void)[] = [];

  constructor(readonly logDir: string) {
    mkdirSync(logDir, { recursive: true });
  }

  logFile(name: string): string {
    return join(this.logDir, `${name}.log`);
  }

  /** Calls `listener` (as well as any earlier ones) when a member exits while the group is not stopping. */
  onUnexpectedExit(listener: (name: string, description: string) => void): void {
    this.onExit.push(listener);
  }

  /** `wrapper`: a command that runs node in turn (`ip netns exec <namespace>`: the member runs on a simulated host). */
  async start(
    name: string,
    args: string[],
    env: NodeJS.ProcessEnv = {},
    wrapper?: string[],
  ): Promise<ReadyMessage> {
    const output = openSync(this.logFile(name), 'a');
    const process = spawnHedge(args, { lifeline: true, output, env, wrapper });
    closeSync(output);
    const member: Member = { name, process };
    this.members.push(member);
    process.child.once('exit', (code, signal) => {
      const index = this.members.indexOf(member);
      if (index >= 0) this.members.splice(index, 1);
      if (!this.stopping && !member.stopping) {
        for (const listener of this.onExit)
          listener(name, `${name} exited (code ${code}, signal ${signal}); see ${this.logFile(name)}`);
      }
    });
    return process.ready.catch((err: Error) => {
      throw new Error(`${err.message}; see ${this.logFile(name)}`);
    });
  }

  pid(name: string): number | undefined {
    return this.members.find((m) => m.name === name)?.process.child.pid;
  }

  /** Stops one member (with `signal`, SIGTERM unless given); its exit is not reported as unexpected. */
  async stopOne(name: string, signal?: NodeJS.Signals): Promise<void> {
    const member = this.members.find((m) => m.name === name);
    if (!member) return;
    member.stopping = true;
    await stopChild(member.process.child, undefined, signal);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const m of [...this.members].reverse()) await stopChild(m.process.child);
    this.members.length = 0;
  }
}
