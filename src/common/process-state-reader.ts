import { closeSync, openSync, readSync } from 'node:fs';
import type { ProcessState } from './process-state.js';

/** A descriptor not read for this long is closed: its process is no longer watched (or gone for good). */
const IDLE_CLOSE_MS = 10_000;

/**
 * processState for a process read many times a second (the manager's and the
 * agents' 100 ms watch): /proc/<pid>/stat is opened once and re-read in place
 * (pread at offset 0 gives a fresh line), about a third of the CPU of opening,
 * reading and closing it each time (issue 12, idle cost). The descriptor names
 * that one process: once it is gone and reaped a read fails with ESRCH, even if
 * its pid is reused meanwhile. A timer closes idle descriptors while any is
 * open: a replica replaced for good is not asked about again, and its descriptor
 * must not stay open until some later read.
 */
export class ProcessStateReader {
  private readonly open = new Map<number, { fd: number; readAt: number }>();
  private readonly buffer = Buffer.alloc(1024);
  private sweeper?: NodeJS.Timeout;

  constructor(private readonly idleCloseMs = IDLE_CLOSE_MS) {}

  state(pid: number): ProcessState {
    const now = Date.now();
    let entry = this.open.get(pid);
    try {
      if (!entry) {
        entry = { fd: openSync(`/proc/${pid}/stat`, 'r'), readAt: now };
        this.open.set(pid, entry);
        this.sweeper ??= setInterval(() => this.sweep(), this.idleCloseMs).unref();
      }
      entry.readAt = now;
      const line = this.buffer.subarray(0, readSync(entry.fd, this.buffer, 0, this.buffer.length, 0));
      // The state follows the last ")": the command name before it may hold spaces and parentheses.
      const paren = line.lastIndexOf(0x29);
      if (paren < 0 || paren + 2 >= line.length) return this.gone(pid);
      const state = String.fromCharCode(line[paren + 2] as number);
      if (state === 'Z' || state === 'X') return this.gone(pid);
      return state === 'T' || state === 't' ? 'stopped' : 'running';
    } catch {
      return this.gone(pid);
    }
  }

  close(): void {
    for (const pid of [...this.open.keys()]) this.forget(pid);
  }

  private gone(pid: number): ProcessState {
    this.forget(pid);
    return 'gone';
  }

  private forget(pid: number): void {
    const entry = this.open.get(pid);
    if (!entry) return;
    this.open.delete(pid);
    try {
      closeSync(entry.fd);
    } catch {
      // Already closed.
    }
    if (this.open.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private sweep(): void {
    const now = Date.now();
    for (const [pid, entry] of this.open) if (now - entry.readAt >= this.idleCloseMs) this.forget(pid);
  }
}
