import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ProcessStateReader } from '../src/common/process-state-reader.js';
import { waitFor } from './support/wait.js';

/** The descriptors this process holds open on /proc/<pid>/stat. */
function openStatFiles(pid: number): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === `/proc/${pid}/stat`;
    } catch {
      return false;
    }
  }).length;
}

describe('ProcessStateReader (the manager’s 100 ms /proc watch)', () => {
  const children: ChildProcess[] = [];
  const reader = new ProcessStateReader();
  const dir = mkdtempSync(join(tmpdir(), 'hedge-proc-'));
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    reader.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('re-reads one open descriptor: running, stopped, running again, then gone once killed, and closes it', async () => {
    // A command name (/proc's comm: the executable's name) with spaces and parentheses:
    // the state is found after the last ")".
    const sleep = join(dir, 'a (b) c');
    copyFileSync('/bin/sleep', sleep);
    chmodSync(sleep, 0o755);
    const child = spawn(sleep, ['60'], { stdio: 'ignore' });
    children.push(child);
    const pid = child.pid as number;
    await waitFor(
      'the copy to run',
      () => readFileSync(`/proc/${pid}/comm`, 'utf8') === 'a (b) c\n',
      10_000,
      10,
    );
    expect(reader.state(pid)).toBe('running');
    expect(openStatFiles(pid)).toBe(1);
    process.kill(pid, 'SIGSTOP');
    await waitFor('the child to stop', () => reader.state(pid) === 'stopped', 10_000, 10);
    process.kill(pid, 'SIGCONT');
    await waitFor('the child to run again', () => reader.state(pid) === 'running', 10_000, 10);
    expect(openStatFiles(pid)).toBe(1);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(reader.state(pid)).toBe('gone');
    expect(openStatFiles(pid)).toBe(0);
  });

  it('closes the descriptor of a process not asked about again (a replica replaced for good), without another read', async () => {
    const idle = new ProcessStateReader(200);
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    children.push(child);
    const pid = child.pid as number;
    try {
      expect(idle.state(pid)).toBe('running');
      expect(openStatFiles(pid)).toBe(1);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      // Nothing reads it again: the timer closes it once idle.
      await waitFor('the idle descriptor to be closed', () => openStatFiles(pid) === 0, 20_000, 50);
    } finally {
      idle.close();
    }
  });

  it('says gone for a pid with no process, and close() closes every descriptor', () => {
    expect(reader.state(2 ** 22 + 1)).toBe('gone');
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    children.push(child);
    const pid = child.pid as number;
    expect(reader.state(pid)).toBe('running');
    reader.close();
    expect(openStatFiles(pid)).toBe(0);
    expect(reader.state(pid)).toBe('running');
  });
});
