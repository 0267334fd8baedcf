import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH, makeTempDataDir, PACKAGE_ROOT } from '../src/common/paths.js';
import { useCluster } from './support/cluster.js';

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
    'admin',
    'feed',
    'manager',
    'replica',
    'agent',
    'bench',
    'bench-replica',
    'bench-workload',
    'bench-manager-restart',
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

  it.each(commands)('hedge %s --help shows defaults as a person writes them, and examples', (command) => {
    const help = hedge(command, '--help');
    // One entry per option: its first line starts with "  -", wrapped lines follow.
    const options = help
      .slice(help.indexOf('Options:'), help.indexOf('Examples:'))
      .split(/\n(?= {2}-)/)
      .map((entry) => entry.replace(/\s+/g, ' '));
    for (const entry of options) {
      expect(entry).not.toMatch(/\(default: \[/);
      if (entry.includes('<duration>')) expect(entry).not.toMatch(/\(default: \d+\)/);
    }
    expect(help).toMatch(new RegExp(`\\nExamples:\\n {2}\\$ hedge ${command}\\b`));
  });

  it('hedge --version prints the package version', () => {
    const { version } = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8'));
    expect(hedge('--version').trim()).toBe(version);
  });

  it('refuses a bad option value with a clear message', () => {
    expect(() =>
      execFileSync(process.execPath, [CLI_PATH, 'replica', '--dedup', 'maybe'], { stdio: 'pipe' }),
    ).toThrow(/expected one of cache, abort/);
  });
});

/** `hedge ...args`, its status and both outputs, whatever the status. */
function hedgeRun(
  args: string[],
  input = '',
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // A hedge that misbehaves (waits forever) is ended rather than left behind.
    const child = execFile(
      process.execPath,
      [CLI_PATH, ...args],
      { timeout: 30_000, env },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr }),
    );
    child.stdin?.end(input);
  });
}

/** A port nothing listens on: one the kernel gave, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid as number;
}

describe('a data directory whose system has stopped', () => {
  const dirs: string[] = [];
  let listener: Server;
  let listening: string;
  beforeAll(async () => {
    // Something that takes connections, where a stale run file's address may point.
    listener = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    listening = `127.0.0.1:${(listener.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => listener.close(resolve));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A data directory holding the run files a system killed by a signal leaves behind. */
  const staleDataDir = (files: Record<string, { pid: number } & Record<string, unknown>>): string => {
    const dir = makeTempDataDir('hedge-stale-');
    dirs.push(dir);
    mkdirSync(join(dir, 'run'));
    for (const [name, data] of Object.entries(files)) {
      writeFileSync(join(dir, 'run', `${name}.json`), JSON.stringify(data));
    }
    return dir;
  };

  const commands: [string, string[]][] = [
    ['trade', ['trade']],
    ['status', ['status']],
    ['inject', ['inject', '--count', '1']],
    ['workload', ['workload', 'seng468/workloads/1userWorkLoad']],
    ['verify', ['verify']],
  ];

  it.each(commands)(
    'hedge %s: a run file whose process is dead means no running system',
    async (_name, args) => {
      const dead = await deadPid();
      // The address even takes connections: the dead owner alone tells the file is stale.
      const dataDir = staleDataDir({
        manager: { address: listening, pid: dead },
        feed: { address: listening, pid: dead },
        db: { databaseUrl: `postgres://hedge:secret@${listening}/hedge`, pid: dead },
      });
      const run = await hedgeRun([...args, '--data-dir', dataDir]);
      expect(run.stderr).toMatch(/^hedge: no running system in .*; start it with `hedge up`/m);
      expect(run.code).toBe(1);
    },
  );

  it.each(commands)(
    'hedge %s: a run file whose address refuses connections means no running system',
    async (_name, args) => {
      const refused = `127.0.0.1:${await closedPort()}`;
      // The owner is alive (this test), as when a pid is reused after a reboot; nothing listens.
      const dataDir = staleDataDir({
        manager: { address: refused, pid: process.pid },
        feed: { address: refused, pid: process.pid },
        db: { databaseUrl: `postgres://hedge:secret@${refused}/hedge`, pid: process.pid },
      });
      const run = await hedgeRun([...args, '--data-dir', dataDir]);
      expect(run.stderr).toMatch(/^hedge: no running system in .*; start it with `hedge up`/m);
      expect(run.stderr).not.toMatch(/UNAVAILABLE|ECONNREFUSED/);
      expect(run.code).toBe(1);
    },
  );

  it('hedge trade --manager at an address nothing answers says so, not the protocol', async () => {
    const address = `127.0.0.1:${await closedPort()}`;
    const run = await hedgeRun(['trade', '--manager', address, '--feed', address, '--deadline', '1s']);
    expect(run.stderr).toContain(
      `hedge: no replication manager answers at ${address}; is the system running?`,
    );
    expect(run.stderr).not.toMatch(/UNAVAILABLE|ECONNREFUSED/);
    expect(run.code).toBe(1);
  });
});

describe('options checked before anything is sent', () => {
  const noPassword = { ...process.env };
  delete noPassword.HEDGE_PASSWORD;

  it.each([
    ['trade', ['trade', '--deadline', '0']],
    ['workload', ['workload', 'seng468/workloads/1userWorkLoad', '--deadline', '0']],
  ])('hedge %s refuses --deadline 0', async (_name, args) => {
    const run = await hedgeRun([...args, '--manager', '127.0.0.1:1', '--feed', '127.0.0.1:1']);
    expect(run.stderr).toContain(
      "option '--deadline <duration>' argument '0' is invalid. expected a duration above zero",
    );
    expect(run.code).not.toBe(0);
  });

  it.each([
    ['--user without a password', ['--user', 'bob'], 'hedge: --user needs --password or HEDGE_PASSWORD'],
    ['--password without --user', ['--password', 'secret'], 'hedge: --password needs --user'],
  ])('hedge trade in a script refuses %s', async (_name, args, message) => {
    // Nothing answers there: a refusal that came after connecting would say so instead.
    const address = `127.0.0.1:${await closedPort()}`;
    const run = await hedgeRun(
      ['trade', '--manager', address, '--feed', address, ...args],
      'quote ABC\n',
      noPassword,
    );
    expect(run.stderr.trim()).toBe(message);
    expect(run.stdout).toBe('');
    expect(run.code).toBe(1);
  });
});

describe('hedge inject', () => {
  it('refuses --every with --at', async () => {
    const run = await hedgeRun(['inject', '--manager', '127.0.0.1:1', '--every', '1s', '--at', '5s']);
    expect(run.stderr).toContain("option '--every <duration>' cannot be used with option '--at <list>'");
    expect(run.code).not.toBe(0);
  });

  it.each([
    [['--every', '0'], "option '--every <duration>' argument '0' is invalid. expected a duration above zero"],
    [['--at', '5s,5s,5s'], 'offset 5s is given twice; each must differ'],
    [['--at', '1s,2s,1000ms'], 'offset 1s is given twice; each must differ'],
    [['--kinds', 'delay', '--delay', '0'], "option '--delay <duration>' argument '0' is invalid"],
    [['--kinds', 'delay', '--delay-scope', 'out'], 'expected one of all, incoming'],
  ])('refuses %j: no injection is made', async (args, message) => {
    const run = await hedgeRun(['inject', '--manager', '127.0.0.1:1', ...args]);
    expect(run.stderr).toContain(message);
    expect(run.stdout).toBe('');
    expect(run.code).not.toBe(0);
  });

  describe('against replicas that refuse fault injection', () => {
    const c = useCluster();

    it('exits non-zero when its injections failed', async () => {
      const run = await hedgeRun([
        'inject',
        '--manager',
        c.managerAddress,
        '--kinds',
        'slow',
        '--count',
        '1',
      ]);
      const lines = run.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { outcome: string; detail?: string });
      expect(lines).toEqual([expect.objectContaining({ outcome: 'failed' })]);
      expect(lines[0]?.detail).toContain('PERMISSION_DENIED');
      expect(run.stderr).toContain('hedge: 1 injection(s) failed');
      expect(run.code).toBe(1);
    });
  });
});
