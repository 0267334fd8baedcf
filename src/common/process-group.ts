import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { type ReadyMessage, type SpawnedHedgeProcess, spawnHedge, stopChild } from './hedge-process.js';

interface Member {
  name: string;
  process: SpawnedHedgeProcess;
}

/**
 * Hedge processes started together: each with a lifeline to this process (so
 * none outlives it, however it ends), its output in <logDir>/<name>.log, and
 * stopped in the reverse order of starting.
 */
export class ProcessGroup {
  private readonly members: Member[] = [];
  private stopping = false;
  private onExit: (description: string) => void = () => {};

  constructor(readonly logDir: string) {
    mkdirSync(logDir, { recursive: true });
  }

  logFile(name: string): string {
    return join(this.logDir, `${name}.log`);
  }

  /** Calls `listener` when a member exits while the group is not stopping. */
  onUnexpectedExit(listener: (description: string) => void): void {
    this.onExit = listener;
  }

  async start(name: string, args: string[]): Promise<ReadyMessage> {
    const output = openSync(this.logFile(name), 'a');
    const process = spawnHedge(args, { lifeline: true, output });
    this.members.push({ name, process });
    process.child.once('exit', (code, signal) => {
      if (!this.stopping)
        this.onExit(`${name} exited (code ${code}, signal ${signal}); see ${this.logFile(name)}`);
    });
    return process.ready.catch((err: Error) => {
      throw new Error(`${err.message}; see ${this.logFile(name)}`);
    });
  }

  pid(name: string): number | undefined {
    return this.members.find((m) => m.name === name)?.process.child.pid;
  }

  /** Stops one member (and forgets it). */
  async stopOne(name: string): Promise<void> {
    const index = this.members.findIndex((m) => m.name === name);
    const member = this.members[index];
    if (!member) return;
    this.members.splice(index, 1);
    member.process.child.removeAllListeners('exit');
    await stopChild(member.process.child);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const m of [...this.members].reverse()) await stopChild(m.process.child);
    this.members.length = 0;
  }
}
