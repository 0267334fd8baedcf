import { linkSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile } from './json-file.js';
import { isAlive, processStartTime } from './process-state.js';

/** Who holds a lock: a pid and its start time name one process even when pids are reused. */
export interface LockOwner {
  pid: number;
  startTime: string;
  /** What the owner is, for the message a second one gets: "hedge up". */
  command: string;
}

export class InUseError extends Error {
  constructor(
    readonly what: string,
    readonly owner: LockOwner,
    hint?: string,
  ) {
    super(`${what} is in use by ${owner.command} (pid ${owner.pid})${hint ? `; ${hint}` : ''}`);
  }
}

export interface OwnerLock {
  release(): void;
}

/**
 * Makes this process the one owner of `what` through the lock file `path`
 * (created exclusively, complete from the start: written aside, then hard-linked
 * into place). A lock whose owner is alive refuses with an InUseError naming it;
 * one whose owner is dead (or whose pid now names another process) is taken over.
 * With `parentMayHold`, a lock held by this process's parent counts as ours:
 * `hedge up` owns the data directory for the `hedge db` it starts. Released when
 * this process exits; a process killed outright leaves a lock its successor takes over.
 */
export function acquireOwnerLock(
  path: string,
  what: string,
  command: string,
  options: { parentMayHold?: boolean; hint?: string } = {},
): OwnerLock {
  const pid = process.pid;
  const me: LockOwner = { pid, startTime: processStartTime(pid) ?? '', command };
  const aside = `${path}.${pid}`;
  writeFileSync(aside, JSON.stringify(me));
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(aside, path);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
      }
      const holder = readOwner(path);
      if (holder && isRunning(holder)) {
        if (options.parentMayHold && holder.pid === process.ppid) return { release: () => {} };
        throw new InUseError(what, holder, options.hint);
      }
      // The owner is dead: its lock is left over.
      rmSync(path, { force: true });
    }
  } finally {
    rmSync(aside, { force: true });
  }
  const release = () => {
    if (readOwner(path)?.pid === pid) rmSync(path, { force: true });
    process.off('exit', release);
  };
  process.on('exit', release);
  return { release };
}

/** The lock's owner, if the file holds one (a lock being written aside is never seen half-done). */
export function readOwner(path: string): LockOwner | undefined {
  const owner = readJsonFile(path) as Partial<LockOwner> | null | undefined;
  return Number.isInteger(owner?.pid) && typeof owner?.startTime === 'string'
    ? (owner as LockOwner)
    : undefined;
}

function isRunning(owner: LockOwner): boolean {
  return isAlive(owner.pid) && processStartTime(owner.pid) === owner.startTime;
}

/** A data directory has one owner: `hedge up` or a stand-alone `hedge db` (see acquireOwnerLock). */
export function lockDataDir(dataDir: string, command: string, parentMayHold = false): OwnerLock {
  mkdirSync(dataDir, { recursive: true });
  return acquireOwnerLock(join(dataDir, 'owner.lock'), `data directory ${dataDir}`, command, {
    parentMayHold,
    hint: 'stop it first, or choose another --data-dir',
  });
}
