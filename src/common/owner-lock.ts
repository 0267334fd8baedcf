import { closeSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
      // Gone between the link and the read (released, or removed by a taker): link again.
      const seen = readLock(path);
      if (!seen) continue;
      const holder = seen.owner;
      if (holder && isRunning(holder)) {
        if (options.parentMayHold && holder.pid === process.ppid) return { release: () => {} };
        throw new InUseError(what, holder, options.hint);
      }
      // The owner is dead: its lock is left over. Several processes may see that
      // at once, and a lock judged dead must only be replaced by one of them, or
      // one taker's fresh lock could be removed by another. So a taker first takes
      // a takeover lock (linked exclusively); only its holder removes the dead
      // lock, and only after judging it again while holding it. A fresh process
      // that links into the gap owns the lock: the holder's link then fails and
      // it finds that owner alive. Left open: a taker killed while holding the
      // takeover lock leaves it; the next start removes it and refuses once.
      takeOver(path, aside, holder, what, options.hint);
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

/** The lock's owner (undefined inside when the file holds none), or undefined when there is no lock. */
function readLock(path: string): { owner: LockOwner | undefined } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    let owner: LockOwner | undefined;
    try {
      const parsed = JSON.parse(readFileSync(fd, 'utf8')) as Partial<LockOwner>;
      if (Number.isInteger(parsed?.pid) && typeof parsed?.startTime === 'string') owner = parsed as LockOwner;
    } catch {
      // Not JSON: a writer that died part-way (locks are linked complete, so never a live one).
    }
    return { owner };
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces the dead lock at `path` if this process gets the takeover lock and
 * the owner there is still the dead one; otherwise refuses (another process is
 * taking it over). Returns with the dead lock removed; the caller links its own.
 */
function takeOver(
  path: string,
  aside: string,
  dead: LockOwner | undefined,
  what: string,
  hint?: string,
): void {
  const takeover = `${path}.takeover`;
  try {
    linkSync(aside, takeover);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const taker = readOwner(takeover);
    if (!taker || !isRunning(taker)) rmSync(takeover, { force: true });
    throw new InUseError(what, TAKER, hint);
  }
  try {
    const now = readLock(path);
    // Gone: another taker replaced it and has not linked yet, or it was released; the caller links again.
    if (!now) return;
    const same = now.owner?.pid === dead?.pid && now.owner?.startTime === dead?.startTime;
    if (!same) throw new InUseError(what, now.owner && isRunning(now.owner) ? now.owner : TAKER, hint);
    rmSync(path, { force: true });
  } finally {
    rmSync(takeover, { force: true });
  }
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
