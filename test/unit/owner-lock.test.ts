import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireOwnerLock, readOwner } from '../../src/common/owner-lock.js';
import { processStartTime } from '../../src/common/process-state.js';

describe('owner lock', () => {
  let dir: string;
  let other: ChildProcess | undefined;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hedge-lock-'));
  });
  afterEach(() => {
    other?.kill('SIGKILL');
    other = undefined;
    for (const child of children.splice(0)) child.kill('SIGKILL');
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

  // Takers race for real, in their own processes: each waits on stdin for "go",
  // then tries the lock and stays alive holding what it got until killed.
  it("gives a dead owner's lock to exactly one of several processes taking it over at once", async () => {
    const lockModule = pathToFileURL(resolve('dist/common/owner-lock.js')).href;
    const taker = `
      const { acquireOwnerLock } = await import(${JSON.stringify(lockModule)});
      process.stdout.write('ready\\n');
      process.stdin.once('data', () => {
        let outcome;
        try { acquireOwnerLock(process.argv[1], 'd', 'taker'); outcome = 'owner'; }
        catch (err) { outcome = err.code === undefined ? 'refused' : 'error ' + err.message; }
        process.stdout.write(outcome + '\\n');
      });`;
    const dead = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    const deadPid = dead.pid ?? 0;
    await new Promise((resolve) => dead.once('exit', resolve));
    /** The child's next line of output (each writes one at a time, and waits). */
    const line = (child: ChildProcess) =>
      new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout?.on('data', (chunk) => {
          out += chunk;
          if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
        });
        child.once('exit', (code) => reject(new Error(`taker exited (${code}) after: ${out}`)));
      });
    const rounds: string[][] = [];
    for (let round = 0; round < 20; round++) {
      const path = join(dir, `owner-${round}.lock`);
      writeFileSync(path, JSON.stringify({ pid: deadPid, startTime: '1', command: 'hedge up' }));
      const takers = Array.from({ length: 6 }, () =>
        spawn(process.execPath, ['--input-type=module', '-e', taker, path], {
          stdio: ['pipe', 'pipe', 'inherit'],
        }),
      );
      children.push(...takers);
      try {
        await Promise.all(takers.map((t) => line(t)));
        const outcomes = takers.map((t) => line(t));
        for (const t of takers) t.stdin?.write('go\n');
        rounds.push((await Promise.all(outcomes)).sort());
        const owner = readOwner(path);
        expect(takers.map((t) => t.pid)).toContain(owner?.pid);
      } finally {
        for (const t of takers) t.kill('SIGKILL');
      }
    }
    const owners = rounds.map((outcomes) => outcomes.filter((o) => o === 'owner').length);
    expect(owners).toEqual(rounds.map(() => 1));
    expect(rounds.flat().filter((o) => o !== 'owner' && o !== 'refused')).toEqual([]);
  }, 90_000);
});
