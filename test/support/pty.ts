import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { afterEach } from 'vitest';

const RELAY = fileURLToPath(new URL('./pty-relay.py', import.meta.url));

/** A command running in a real pseudo-terminal: type keys, wait for what it shows. */
export interface Pty {
  /** Everything the terminal has shown so far, without cursor movements and carriage returns. */
  readonly output: string;
  /** Everything the terminal was sent, escape sequences and all (for a screen emulator). */
  readonly raw: string;
  type(keys: string): void;
  /** Waits until the output after `from` matches; returns the offset just past the match. */
  expect(pattern: RegExp, from?: number): Promise<number>;
  exited: Promise<number>;
  kill(): void;
}

/** Runs `command` in a pseudo-terminal made by python3's pty module (no native module needed). */
export function spawnInPty(
  command: string,
  args: string[],
  timeoutMs = 30_000,
  env: NodeJS.ProcessEnv = process.env,
): Pty {
  const child: ChildProcess = spawn('python3', [RELAY, command, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env,
  });
  let raw = '';
  // The text as it reads: readline's cursor and erase sequences and the tty's CRs removed.
  const plain = () => stripVTControlCharacters(raw).replaceAll('\r', '');
  const waiters = new Set<() => void>();
  child.stdout?.on('data', (d: Buffer) => {
    raw += d.toString('utf8');
    for (const w of waiters) w();
  });
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  let done = false;
  void exited.then(() => {
    done = true;
    for (const w of waiters) w();
  });
  return {
    get output() {
      return plain();
    },
    get raw() {
      return raw;
    },
    type: (keys) => {
      child.stdin?.write(keys);
    },
    expect: (pattern, from = 0) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(plain().slice(from));
          if (match) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(from + match.index + match[0].length);
          } else if (done) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`exited before showing ${pattern}; the terminal showed:\n${plain()}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`never showed ${pattern}; the terminal showed:\n${plain()}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    exited,
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * `spawnInPty` for the enclosing block's tests: every terminal it starts is killed
 * after its test, passed or failed (one that exited already is left alone).
 */
export function usePtys(): typeof spawnInPty {
  const started: Pty[] = [];
  afterEach(() => {
    for (const pty of started.splice(0)) pty.kill();
  });
  return (...args) => {
    const pty = spawnInPty(...args);
    started.push(pty);
    return pty;
  };
}
