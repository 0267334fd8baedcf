import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireOwnerLock, readOwner } from '../../src/common/owner-lock.js';
import { processStartTime } from '../../src/common/process-state.js';

describe('owner lock', () => {
  let dir: string;
  let other: ChildProcess | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hedge-lock-'));
  });
  afterEach(() => {
    other?.kill('SIGKILL');
    other = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses while a live owner holds it, naming the owner and its pid', () => {
    other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const pid = other.pid ?? 0;
    const path = join(dir, 'owner.lock');
    writeFileSync(path, JSON.stringify({ pid, startTime: processStartTime(pid), command: 'hedge up' }));
    expect(() => acquireOwnerLock(path, 'data directory d', 'hedge db')).toThrow(
      `data directory d is in use by hedge up (pid ${pid})`,
    );
    expect(readOwner(path)?.pid).toBe(pid);
  });

  it('takes over a lock whose pid now names another process (a reused pid)', () => {
    const path = join(dir, 'owner.lock');
    writeFileSync(path, JSON.stringify({ pid: process.pid, startTime: '1', command: 'hedge up' }));
    const lock = acquireOwnerLock(path, 'data directory d', 'hedge db');
    expect(readOwner(path)).toEqual({
      pid: process.pid,
      startTime: processStartTime(process.pid),
      command: 'hedge db',
    });
    lock.release();
    expect(existsSync(path)).toBe(false);
  });

  it('takes over a lock whose owner is dead', async () => {
    const dead = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    const pid = dead.pid ?? 0;
    await new Promise((resolve) => dead.once('exit', resolve));
    const path = join(dir, 'owner.lock');
    writeFileSync(path, JSON.stringify({ pid, startTime: '1', command: 'hedge up' }));
    const lock = acquireOwnerLock(path, 'data directory d', 'hedge db');
    expect(readOwner(path)?.pid).toBe(process.pid);
    lock.release();
  });
});
