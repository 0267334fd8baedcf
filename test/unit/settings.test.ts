import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/common/duration.js';
import { makeTempDataDir } from '../../src/common/paths.js';
import {
  DATABASE_URL,
  FEED_ADDRESS,
  logLevel,
  ORDER_TTL,
  replicaArgs,
  requireSetting,
  resolveDataDir,
  resolveSetting,
  type Setting,
  settingOption,
} from '../../src/common/settings.js';
import { replicaCommand } from '../../src/replica/command.js';

let dataDir: string;
let server: Server;
let listening: string;

/** A pid that is certainly dead: a child that has exited. */
function deadPid(): number {
  return Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']));
}

function writeRun(dir: string, name: string, data: Record<string, unknown>): void {
  mkdirSync(join(dir, 'run'), { recursive: true });
  writeFileSync(join(dir, 'run', `${name}.json`), JSON.stringify(data));
}

beforeAll(async () => {
  dataDir = makeTempDataDir('hedge-settings-');
  server = createServer((socket) => socket.destroy());
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  listening = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  // A running system's run files: this process is alive, and the address takes connections.
  writeRun(dataDir, 'db', {
    databaseUrl: `postgres://hedge:pw@${listening}/from-run-file`,
    pid: process.pid,
  });
  // `hedge up` lists its feeds; one of them down (port 1 refuses) leaves the list live.
  writeRun(dataDir, 'feeds', { addresses: `127.0.0.1:1,${listening}`, pid: process.pid });
});

afterAll(async () => {
  await new Promise((done) => server.close(done));
  rmSync(dataDir, { recursive: true, force: true });
});

describe('settings: flag > environment > run file > default', () => {
  const env = { DATABASE_URL: 'postgres://hedge:pw@127.0.0.1:1/from-env' };

  it('the database URL: the flag, else $DATABASE_URL, else the running system, else none', async () => {
    const place = { dataDir, env };
    expect(await resolveSetting(DATABASE_URL, 'postgres://flag/db', place)).toBe('postgres://flag/db');
    expect(await resolveSetting(DATABASE_URL, undefined, place)).toBe(env.DATABASE_URL);
    // An empty variable is no value (`DATABASE_URL= hedge up`), as an empty flag is.
    expect(await resolveSetting(DATABASE_URL, '', { dataDir, env: { DATABASE_URL: '' } })).toBe(
      `postgres://hedge:pw@${listening}/from-run-file`,
    );
    const empty = makeTempDataDir('hedge-settings-empty-');
    try {
      expect(await resolveSetting(DATABASE_URL, undefined, { dataDir: empty, env: {} })).toBeUndefined();
      await expect(requireSetting(DATABASE_URL, undefined, { dataDir: empty, env: {} })).rejects.toThrow(
        /^no running system in .*; start it with `hedge up`, or pass --database-url or set DATABASE_URL$/,
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("a list of feeds is the running system's while one of them takes connections, not once none does", async () => {
    const refusing = makeTempDataDir('hedge-settings-refusing-');
    try {
      // Port 1 and port 2 refuse: the process that wrote the file lives, but none of its feeds does.
      writeRun(refusing, 'feeds', { addresses: '127.0.0.1:1,127.0.0.1:2', pid: process.pid });
      expect(await resolveSetting(FEED_ADDRESS, undefined, { dataDir: refusing, env: {} })).toBeUndefined();
      writeRun(refusing, 'feeds', { addresses: `127.0.0.1:1,${listening}`, pid: process.pid });
      expect(await resolveSetting(FEED_ADDRESS, undefined, { dataDir: refusing, env: {} })).toBe(
        `127.0.0.1:1,${listening}`,
      );
    } finally {
      rmSync(refusing, { recursive: true, force: true });
    }
  });

  it("a run file whose process is dead is no running system's", async () => {
    const stale = makeTempDataDir('hedge-settings-stale-');
    try {
      writeRun(stale, 'feeds', { addresses: listening, pid: deadPid() });
      expect(await resolveSetting(FEED_ADDRESS, undefined, { dataDir: stale, env: {} })).toBeUndefined();
      await expect(requireSetting(FEED_ADDRESS, undefined, { dataDir: stale, env: {} })).rejects.toThrow(
        '(the one that wrote its run files has stopped), or pass --feed',
      );
    } finally {
      rmSync(stale, { recursive: true, force: true });
    }
  });

  it('a setting with all four: each step wins over the ones after it', async () => {
    const feed: Setting<string> = { ...FEED_ADDRESS, env: 'HEDGE_TEST_FEED', default: '127.0.0.1:9' };
    const place = { dataDir, env: { HEDGE_TEST_FEED: '10.0.0.1:5' } };
    expect(await resolveSetting(feed, '10.0.0.2:6', place)).toBe('10.0.0.2:6');
    expect(await resolveSetting(feed, undefined, place)).toBe('10.0.0.1:5');
    expect(await resolveSetting(feed, undefined, { dataDir, env: {} })).toBe(`127.0.0.1:1,${listening}`);
    expect(await resolveSetting(feed, undefined, { dataDir: join(dataDir, 'none'), env: {} })).toBe(
      '127.0.0.1:9',
    );
  });

  it('the data directory: the flag, else $HEDGE_DATA_DIR, else .hedge', () => {
    expect(resolveDataDir('/tmp/flag', { HEDGE_DATA_DIR: '/tmp/env' })).toBe('/tmp/flag');
    expect(resolveDataDir(undefined, { HEDGE_DATA_DIR: '/tmp/env' })).toBe('/tmp/env');
    expect(resolveDataDir(undefined, {})).toBe(resolve('.hedge'));
  });

  it('a default is parsed like a flag; a bad environment value names its variable', async () => {
    expect(await resolveSetting(ORDER_TTL, undefined)).toBe(60_000);
    expect(await resolveSetting(ORDER_TTL, 5_000)).toBe(5_000);
    const ttl: Setting<number> = { ...ORDER_TTL, env: 'HEDGE_TEST_TTL' };
    expect(await resolveSetting(ttl, undefined, { env: { HEDGE_TEST_TTL: '2m' } })).toBe(120_000);
    await expect(resolveSetting(ttl, undefined, { env: { HEDGE_TEST_TTL: 'soon' } })).rejects.toThrow(
      /^\$HEDGE_TEST_TTL: not a duration/,
    );
  });

  it('the option of a setting with an environment variable leaves the fallback to resolveSetting', () => {
    const command = new Command().exitOverride().addOption(settingOption(DATABASE_URL));
    command.parse([], { from: 'user' });
    expect(command.opts().databaseUrl).toBeUndefined();
    expect(command.options[0]?.description).toBe(
      "PostgreSQL URL (default: $DATABASE_URL, else the running system's)",
    );
  });
});

describe('replicaArgs', () => {
  /** The options `hedge replica` would run with for these arguments. */
  async function parsedByReplica(args: string[]): Promise<Record<string, unknown>> {
    expect(args[0]).toBe('replica');
    let seen: Record<string, unknown> = {};
    const command = replicaCommand()
      .exitOverride()
      .action((opts: Record<string, unknown>) => {
        seen = opts;
      });
    await command.parseAsync(args.slice(1), { from: 'user' });
    return seen;
  }

  it("round-trips through the replica command's parser, durations with their unit", async () => {
    const args = replicaArgs({
      id: 'r-1',
      dataDir: '/tmp/d',
      ownerPid: 42,
      dedup: 'abort',
      pool: 7,
      orderTtlMs: 90_000,
      feed: '127.0.0.1:5',
      allowFaultInjection: true,
    });
    expect(args[args.indexOf('--order-ttl') + 1]).toBe('90s');
    expect(await parsedByReplica(args)).toMatchObject({
      id: 'r-1',
      dataDir: '/tmp/d',
      ownerPid: 42,
      dedup: 'abort',
      pool: 7,
      orderTtl: 90_000,
      feed: '127.0.0.1:5',
      allowFaultInjection: true,
    });
  });

  it("leaves what is not given to the replica's own defaults, and never carries the database URL", async () => {
    const args = replicaArgs({ id: 'r-2', orderTtlMs: 1_500 });
    expect(args).toEqual(['replica', '--id', 'r-2', '--order-ttl', '1500ms']);
    expect(await parsedByReplica(args)).toMatchObject({ dedup: 'cache', pool: 10, orderTtl: 1_500 });
  });

  it('formats every duration so that parseDuration reads it back exactly', () => {
    for (const ms of [0, 1, 999, 1_000, 1_500, 60_000, 90_000, 3_600_000, 86_400_000, 43_200_000]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
    expect(formatDuration(60_000)).toBe('1m');
  });
});

describe('the log level (one setting, read in settings.ts)', () => {
  it('is $HEDGE_LOG_LEVEL, info when unset or empty, and a level pino does not know is refused naming the variable', () => {
    expect(logLevel({ HEDGE_LOG_LEVEL: 'warn' })).toBe('warn');
    expect(logLevel({})).toBe('info');
    expect(logLevel({ HEDGE_LOG_LEVEL: '' })).toBe('info');
    expect(() => logLevel({ HEDGE_LOG_LEVEL: 'loud' })).toThrow(
      /^\$HEDGE_LOG_LEVEL: expected one of fatal, error/,
    );
  });
});
