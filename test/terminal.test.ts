import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requestsOf, tradeArgs, useCluster } from './support/cluster.js';
import { usePtys } from './support/pty.js';
import { useTempDir } from './support/temp-dir.js';
import { uniqueUsername } from './support/trader.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('hedge trade, the terminal client', () => {
  const c = useCluster();

  /** `hedge trade` with `script` on stdin, as a script (not a terminal). */
  const script = (lines: string[]): Promise<Run> =>
    new Promise((resolve) => {
      const child = execFile(process.execPath, tradeArgs(c), (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr }),
      );
      child.stdin?.end(`${lines.join('\n')}\n`);
    });

  it('refuses shares, amounts, symbols and counts the wire would not take, and extra words, sending nothing', async () => {
    const user = uniqueUsername('strict');
    const run = await script([
      `register ${user} strict-password`,
      'deposit 1000',
      'buy ABC 1.5',
      'buy ABC 1e3',
      'buy ABC 2.99',
      'buy ABC abc',
      'buy ABC 10 extra',
      'buy ABC',
      'sell 1ABC 1',
      'sell ABC 0',
      'deposit 1e3',
      'deposit 10.001',
      'deposit 5 more',
      'trades abc',
      'trades 1 2',
      'portfolio now',
      'portfolio',
      'trades',
    ]);
    // Of the user's calls, only the deposit reached the server (the register's row names no user yet).
    expect(await requestsOf(c, user)).toEqual(['deposit']);
    expect(run.stdout).toContain('cash 1000.00, reserved 0.00\n');
    expect(run.stdout).toContain('no holdings');
    expect(run.stdout).toContain('no trades');
    expect(run.stdout).not.toMatch(/bought|sold/);
    for (const typed of ['1.5', '1e3', '2.99', 'abc', '0']) expect(run.stderr).toContain(`got "${typed}"`);
    expect(run.stderr).toContain('got "1ABC"');
    expect(run.stderr).toContain('got "10.001"');
    expect(run.stderr.match(/^usage: buy <SYMBOL> <shares>$/gm)).toHaveLength(6);
    expect(run.stderr.match(/^usage: sell <SYMBOL> <shares>$/gm)).toHaveLength(2);
    expect(run.stderr.match(/^usage: deposit <dollars>$/gm)).toHaveLength(3);
    expect(run.stderr.match(/^usage: trades \[n\]$/gm)).toHaveLength(2);
    expect(run.stderr.match(/^usage: portfolio$/gm)).toHaveLength(1);
    expect(run.code).toBe(1);
  });

  it('a script puts errors on stderr and exits non-zero if any line failed, 0 if none did', async () => {
    const user = uniqueUsername('script');
    const failing = await script([
      `register ${user} script-password`,
      'frobnicate',
      'buy ABC 100000000',
      'portfolio',
    ]);
    expect(failing.stderr).toContain('unknown command "frobnicate"; type help');
    expect(failing.stderr).toContain('error: FAILED_PRECONDITION INSUFFICIENT_FUNDS');
    expect(failing.stdout).not.toMatch(/error|unknown command/);
    expect(failing.stdout).toContain(`registered ${user}`);
    expect(failing.code).toBe(1);

    const passing = await script([`login ${user} script-password`, 'deposit 10', 'portfolio']);
    expect(passing.stderr).toBe('');
    expect(passing.stdout).toContain('cash 10.00, reserved 0.00');
    expect(passing.code).toBe(0);
  });

  it('a script that leaves out the password is refused, not prompted', async () => {
    const run = await script([`login ${uniqueUsername('nopw')}`]);
    expect(run.stderr).toContain('usage: login <user> <password>');
    expect(run.code).toBe(1);
  });

  it('a user message says what to do, not what to send: "log in first"', async () => {
    const run = await script(['portfolio']);
    expect(run.stderr).toContain('UNAUTHENTICATED SESSION_MISSING');
    expect(run.stderr).toMatch(/log in first/);
    expect(run.stderr).not.toContain('authorization');
  });

  it('piped into a reader that stops early, it exits quietly', async () => {
    const child = spawn(process.execPath, tradeArgs(c), { stdio: ['pipe', 'pipe', 'pipe'] });
    // Far more than a pipe holds, so the client is still writing when the reader goes.
    child.stdin.end(`${Array(2_000).fill('help').join('\n')}\n`);
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.once('data', () => child.stdout.destroy());
    const [code] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('exit', (code, signal) => resolve([code, signal])),
    );
    expect(stderr).toBe('');
    expect(code).toBe(141);
  });

  describe('in a terminal', () => {
    // Its own data directory: the history file a terminal session keeps goes there.
    const home = useTempDir('hedge-terminal-');
    const inPty = usePtys();
    const interactive = () => inPty(process.execPath, tradeArgs(c, '--plain', '--data-dir', home.path));

    it('asks for a password with echo off and keeps no password in its history', async () => {
      const user = uniqueUsername('tty');
      const secret = 'Zebra-Secret-4471';
      const pty = interactive();
      let at = await pty.expect(/hedge> /);
      pty.type(`register ${user}\r`);
      at = await pty.expect(/password: /, at);
      pty.type(`${secret}\r`);
      at = await pty.expect(new RegExp(`registered ${user}[^\\n]*\\n[^\\n]*\\n${user}> `), at);
      // On a line, then recalled with the up arrow: the history holds the line without its password.
      pty.type(`login ${user} ${secret}\r`);
      at = await pty.expect(new RegExp(`logged in; session until[^\\n]*\\n[^\\n]*\\n${user}> `), at);
      pty.type('\x1b[A');
      at = await pty.expect(new RegExp(`login ${user}(?! ${secret})`), at);
      pty.type('\r');
      at = await pty.expect(/password: /, at);
      pty.type(`${secret}\r`);
      at = await pty.expect(/logged in; session until/, at);
      // Further back: the register line, and no password typed at a prompt.
      pty.type('\x1b[A\x1b[A\x1b[A');
      at = await pty.expect(new RegExp(`register ${user}`), at);
      pty.type('\x15quit\r');
      expect(await pty.exited).toBe(0);
      // Typed three times, shown never: not echoed at the prompt, not recalled from the history.
      const shown = pty.output.split(secret).length - 1;
      expect(shown).toBe(1); // the one login line typed in full, echoed as it was typed
    });

    it('a new session recalls the lines of the last one with Up, without their passwords', async () => {
      const user = uniqueUsername('recall');
      const first = interactive();
      await first.expect(/hedge> /);
      first.type(`register ${user} Recall-Secret-8\r`);
      await first.expect(/registered/);
      first.type('quit\r');
      expect(await first.exited).toBe(0);
      const second = interactive();
      let at = await second.expect(/hedge> /);
      second.type('\x1b[A');
      at = await second.expect(new RegExp(`register ${user}`), at);
      second.type('\x15quit\r');
      expect(await second.exited).toBe(0);
      expect(second.output).not.toContain('Recall-Secret-8');
      expect(readFileSync(join(home.path, 'trade-history'), 'utf8')).not.toContain('Recall-Secret-8');
    });

    it('Ctrl-C clears the line; two on an empty line quit, and so does Ctrl-D', async () => {
      const pty = interactive();
      let at = await pty.expect(/hedge> /);
      pty.type('frobnicate');
      at = await pty.expect(/frobnicate/, at);
      pty.type('\x03');
      at = await pty.expect(/^\^C\nhedge> /, at);
      // The abandoned line was not run: help's output comes next, no "unknown command".
      pty.type('help\r');
      at = await pty.expect(/commands:[\s\S]*hedge> /, at);
      pty.type('\x03');
      at = await pty.expect(/Ctrl-C again or Ctrl-D to quit/, at);
      pty.type('\x03');
      expect(await pty.exited).toBe(0);
      expect(pty.output).not.toContain('unknown command');
      const second = interactive();
      await second.expect(/hedge> /);
      second.type('\x04');
      expect(await second.exited).toBe(0);
    });
  });
});
