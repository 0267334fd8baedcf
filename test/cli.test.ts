import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI_PATH } from '../src/common/paths.js';

const hedge = (...args: string[]) =>
  execFileSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8' });

describe('hedge --help', () => {
  const commands = [
    'up',
    'trade',
    'status',
    'inject',
    'verify',
    'db',
    'feed',
    'manager',
    'replica',
    'bench',
    'bench-replica',
    'bench-workload',
    'workload',
  ];

  it('lists every subcommand with a description', () => {
    const help = hedge('--help');
    // The name, its arguments, then the description's first words on the same line.
    for (const c of commands) expect(help).toMatch(new RegExp(`^ {2}${c} [^\\n]*? {2,}[A-Z]\\S* \\S`, 'm'));
  });

  it.each(commands)('documents the options of hedge %s', (command) => {
    const help = hedge(command, '--help');
    expect(help).toContain(`Usage: hedge ${command}`);
    // An option of its own, not only commander's --help.
    expect(help).toMatch(/^ +(-\w, )?--(?!help\b)\w/m);
  });

  it('refuses a bad option value with a clear message', () => {
    expect(() =>
      execFileSync(process.execPath, [CLI_PATH, 'replica', '--dedup', 'maybe'], { stdio: 'pipe' }),
    ).toThrow(/expected one of cache, abort/);
  });
});
