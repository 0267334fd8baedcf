import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
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
      // Gone between the link and the read: a taker has it moved aside (below); it owns.
      const seen = readLock(path);
      if (!seen) throw new InUseError(what, TAKER, options.hint);
      const holder = seen.owner;
      if (holder && isRunning(holder)) {
        if (options.parentMayHold && holder.pid === process.ppid) return { release: () => {} };
        throw new InUseError(what, holder, options.hint);
      }
      // The owner is dead: its lock is left over. Others may be taking it over
      // too, so never unlink by path after judging it (one taker's fresh lock
      // would go). Rename moves one inode, and only one taker can move it; the
      // taker checks that what it moved is the file judged dead, else it moved a
      // live lock just linked by a faster taker and puts it back. A taker that
      // finds the lock gone refuses rather than link into that gap. Left open: a
      // process arriving fresh in the gap of a put-back (microseconds, and only
      // after a crash) still links; without flock(2) in Node no rename design closes it.
      const moved = `${path}.stale.${pid}.${randomBytes(6).toString('hex')}`;
      try {
        renameSync(path, moved);
      } catch (err) {
        // Another taker moved it first: that one owns it. Linking now would race
        // a taker putting back a live lock it moved by mistake.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new InUseError(what, TAKER, options.hint);
        throw err;
      }
      if (statSync(moved).ino !== seen.ino) {
        restore(moved, path, what, options.hint);
      }
      rmSync(moved, { force: true });
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

/** Whom a refusal names when another process is part-way through taking the lock over. */
const TAKER: LockOwner = { pid: 0, startTime: '', command: 'another process taking it over' };

/** The lock's inode and owner, read through one descriptor so that both are of the same file. */
function readLock(path: string): { ino: number; owner: LockOwner | undefined } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const { ino } = fstatSync(fd);
    let owner: LockOwner | undefined;
    try {
      const parsed = JSON.parse(readFileSync(fd, 'utf8')) as Partial<LockOwner>;
      if (Number.isInteger(parsed?.pid) && typeof parsed?.startTime === 'string') owner = parsed as LockOwner;
    } catch {
      // Not JSON: a writer that died part-way (locks are linked complete, so never a live one).
    }
    return { ino, owner };
  } finally {
    closeSync(fd);
  }
}

/**
 * Puts back a live lock a taker moved aside by mistake, and refuses: its owner
 * took the lock over first. If the path is taken meanwhile, that one owns it.
 * Either way the taker refuses, naming the owner it moved.
 */
function restore(moved: string, path: string, what: string, hint: string | undefined): never {
  const owner = readOwner(moved);
  try {
    linkSync(moved, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(moved, { force: true });
  }
  throw new InUseError(what, owner ?? TAKER, hint);
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
