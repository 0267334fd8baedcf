import { resolve } from 'node:path';
import { Option } from 'commander';
import { choiceOption, defaulted, durationOption, intOption, positiveDurationOption } from './cli-options.js';
import { DEDUP_STRATEGIES, type DedupStrategy } from './dedup-strategy.js';
import { formatDuration } from './duration.js';
import { feedAddressList } from './feed-addresses.js';
import { liveRunFileValue } from './run-files.js';

/**
 * Every setting a command reads, stated once: its flag, its environment
 * variable, the run file of a running system that knows it, its default as a
 * person writes it, and its parser. Every command reads a setting the same way
 * (`resolveSetting`): flag > environment > the running system's run file > default.
 * A command with a fallback of its own (`hedge up` starts an embedded database
 * when given none) states it as its variant of the setting.
 */
export interface Setting<T> {
  /** commander's flags, e.g. '--pool <n>'. */
  flag: string;
  description: string;
  parse: (text: string) => T;
  env?: string;
  /** [run file name, key]: <data-dir>/run/<name>.json's value, while its process runs. */
  runFile?: readonly [name: string, key: string];
  /** As a person writes it ("60s"): the help shows it, `parse` makes the value. */
  default?: string;
  /**
   * A command's own fallback when nothing gives a value, for its help ("the
   * embedded one"): the command acts on `undefined` itself.
   */
  otherwise?: string;
}

export const DATA_DIR: Setting<string> = {
  flag: '--data-dir <dir>',
  description: 'data directory',
  parse: String,
  env: 'HEDGE_DATA_DIR',
  default: '.hedge',
};

export const DATABASE_URL: Setting<string> = {
  flag: '--database-url <url>',
  description: 'PostgreSQL URL',
  parse: String,
  env: 'DATABASE_URL',
  runFile: ['db', 'databaseUrl'],
};

export const MANAGER_ADDRESS: Setting<string> = {
  flag: '--manager <address>',
  description: "the manager's address",
  parse: String,
  runFile: ['manager', 'address'],
};

/**
 * Every stock feed, comma-separated ("a:1,b:2"): any of them gives the same
 * price for a tick, and clients and replicas follow all of them. `hedge up`
 * writes them to the run file "feeds".
 */
export const FEED_ADDRESS: Setting<string> = {
  flag: '--feed <addresses>',
  description: 'the stock feeds, comma-separated',
  parse: feedAddressList,
  runFile: ['feeds', 'addresses'],
};

/**
 * How much every process logs (pino's levels). Set in the environment, which the
 * processes a command starts inherit; no command offers the flag.
 */
export const LOG_LEVEL: Setting<string> = {
  flag: '--log-level <level>',
  description: 'how much each process logs',
  parse: choiceOption(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  env: 'HEDGE_LOG_LEVEL',
  default: 'info',
};

export const PASSWORD: Setting<string> = {
  flag: '--password <password>',
  description: 'with --user',
  parse: String,
  env: 'HEDGE_PASSWORD',
};

export const DEDUP: Setting<DedupStrategy> = {
  flag: '--dedup <strategy>',
  description:
    "'cache': copies of a request wait for the first and read its stored response; " +
    "'abort': every copy does the work and the losers roll back. " +
    'Every replica of one database must use the same strategy (the two take locks in opposite orders)',
  parse: choiceOption(DEDUP_STRATEGIES),
  default: 'cache',
};

export const POOL: Setting<number> = {
  flag: '--pool <n>',
  description: 'database connections',
  parse: intOption(1, 200),
  default: '10',
};

export const SESSION_TTL: Setting<number> = {
  flag: '--session-ttl <duration>',
  description: 'how long a login lasts',
  parse: durationOption,
  default: '12h',
};

export const REQUEST_RETENTION: Setting<number> = {
  flag: '--request-retention <duration>',
  description: 'how long stored responses are kept',
  parse: durationOption,
  default: '24h',
};

export const REAP_INTERVAL: Setting<number> = {
  flag: '--reap-interval <duration>',
  description: 'how often old request-log entries are deleted',
  parse: durationOption,
  default: '60s',
};

export const ORDER_TTL: Setting<number> = {
  flag: '--order-ttl <duration>',
  description: 'how long a day-trading BUY or SELL stays pending',
  parse: durationOption,
  default: '60s',
};

export const HEARTBEAT_INTERVAL: Setting<number> = {
  flag: '--heartbeat-interval <duration>',
  description:
    'time between health checks of a replica (a stop or an exit is seen sooner, when /proc is read: ' +
    'see --process-watch-interval)',
  parse: positiveDurationOption,
  default: '2s',
};

export const HEARTBEAT_TIMEOUT: Setting<number> = {
  flag: '--heartbeat-timeout <duration>',
  description:
    'how long a health check may take before it counts as missed (after a miss the next waits twice as long, up to 2s)',
  parse: positiveDurationOption,
  default: '250ms',
};

export const HEARTBEAT_MISSES: Setting<number> = {
  flag: '--heartbeat-misses <n>',
  description:
    'failed health checks in a row below which a running replica is never faulty; past it, the phi-accrual ' +
    'suspicion must also reach 8 (a stopped process, state T, is faulty at once)',
  parse: intOption(1, 100),
  default: '1',
};

export const PROCESS_WATCH_INTERVAL: Setting<number> = {
  flag: '--process-watch-interval <duration>',
  description:
    "how often each replica's state is read from /proc: a stopped (state T) or vanished replica is faulty at once",
  parse: positiveDurationOption,
  default: '100ms',
};

export const SPARES: Setting<number> = {
  flag: '--spares <n>',
  description:
    'warm spare replicas kept started and warmed up out of the view; one joins the view at once when a replica fails',
  parse: intOption(0, 16),
  default: '1',
};

export const REJUVENATE_RSS: Setting<number> = {
  flag: '--rejuvenate-rss <MiB>',
  description:
    'replace a serving replica whose resident memory reaches this (a warm spare takes its place, then it drains and exits); off unless given',
  parse: intOption(1),
};

export const REJUVENATE_AGE: Setting<number> = {
  flag: '--rejuvenate-age <duration>',
  description:
    'replace a serving replica this long after it started (a warm spare takes its place, then it drains and exits); off unless given',
  parse: positiveDurationOption,
};

/** The process a replica's life is tied to: it exits when that one is gone. */
export const OWNER_PID: Setting<number> = {
  flag: '--owner-pid <pid>',
  description: 'exit when this process is gone',
  parse: intOption(1),
};

/** The setting's default value, for code that runs without a command line (tests, libraries). */
export function defaultOf<T>(setting: Setting<T>): T {
  if (setting.default === undefined) throw new Error(`${setting.flag} has no default`);
  return setting.parse(setting.default);
}

/** What the help says a setting falls back to, in the order it is tried. */
function fallbacks(setting: Setting<unknown>): string {
  const steps = [
    ...(setting.env ? [`$${setting.env}`] : []),
    ...(setting.runFile ? ["the running system's"] : []),
    ...(setting.default !== undefined ? [setting.default] : []),
    ...(setting.otherwise !== undefined ? [setting.otherwise] : []),
  ];
  return steps.length > 0 ? ` (default: ${steps.join(', else ')})` : '';
}

/**
 * The commander option for a setting. One that only a flag or its default can
 * set gets commander's default (the help shows it as written); one with an
 * environment variable or a run file gets none, so that `resolveSetting` can
 * tell a flag from a fallback.
 */
export function settingOption(setting: Setting<unknown>): Option {
  if (!setting.env && !setting.runFile && setting.default !== undefined) {
    return defaulted(setting.flag, setting.description, setting.parse, setting.default);
  }
  return new Option(setting.flag, `${setting.description}${fallbacks(setting)}`).argParser(setting.parse);
}

/** Empty counts as unset: `DATABASE_URL= hedge up` means no URL, as `--database-url ''` does. */
function given<T>(value: T | undefined): value is T {
  return value !== undefined && value !== '';
}

function fromEnvironment<T>(setting: Setting<T>, env: NodeJS.ProcessEnv): T | undefined {
  const text = setting.env ? env[setting.env] : undefined;
  if (!given(text)) return undefined;
  try {
    return setting.parse(text);
  } catch (err) {
    throw new Error(`$${setting.env}: ${(err as Error).message}`);
  }
}

export interface SettingPlace {
  /** Where the running system's run files are; only a setting with `runFile` needs it. */
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
  /** The flag an error names, for a command that finds the setting without offering its flag. */
  instead?: string;
}

/** A setting's value: flag > environment > the running system's run file > default; undefined if none. */
export async function resolveSetting<T>(
  setting: Setting<T>,
  flag: T | undefined,
  place: SettingPlace = {},
): Promise<T | undefined> {
  return (await lookUp(setting, flag, place)).value;
}

async function lookUp<T>(
  setting: Setting<T>,
  flag: T | undefined,
  { dataDir, env = process.env }: SettingPlace,
): Promise<{ value?: T; staleRunFile?: boolean }> {
  if (given(flag)) return { value: flag };
  const fromEnv = fromEnvironment(setting, env);
  if (fromEnv !== undefined) return { value: fromEnv };
  let staleRunFile = false;
  if (setting.runFile && dataDir !== undefined) {
    const found = await liveRunFileValue(dataDir, ...setting.runFile);
    if (found.value !== undefined) return { value: setting.parse(found.value) };
    staleRunFile = found.stale;
  }
  if (setting.default !== undefined) return { value: setting.parse(setting.default) };
  return { staleRunFile };
}

/** As `resolveSetting`, but a setting nothing gives is a clear error naming what would. */
export async function requireSetting<T>(
  setting: Setting<T>,
  flag: T | undefined,
  place: SettingPlace = {},
): Promise<T> {
  const { value, staleRunFile } = await lookUp(setting, flag, place);
  if (value !== undefined) return value;
  const name = setting.flag.split(' ')[0];
  const pass = place.instead
    ? `pass ${place.instead}`
    : `pass ${name}${setting.env ? ` or set ${setting.env}` : ''}`;
  if (setting.runFile && place.dataDir !== undefined) {
    throw new Error(
      `no running system in ${place.dataDir}; start it with \`hedge up\`${staleRunFile ? ' (the one that wrote its run files has stopped)' : ''}, or ${pass}`,
    );
  }
  throw new Error(`no ${setting.description}: ${pass}`);
}

/** The log level: $HEDGE_LOG_LEVEL > info. */
export function logLevel(env: NodeJS.ProcessEnv = process.env): string {
  return fromEnvironment(LOG_LEVEL, env) ?? defaultOf(LOG_LEVEL);
}

/** The data directory, as an absolute path: --data-dir > $HEDGE_DATA_DIR > .hedge. */
export function resolveDataDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(given(flag) ? flag : (fromEnvironment(DATA_DIR, env) ?? defaultOf(DATA_DIR)));
}

/** What a spawner (the manager, a benchmark) sets for a replica. The database URL goes by environment. */
export interface ReplicaSettings {
  id?: string;
  dataDir?: string;
  ownerPid?: number;
  dedup?: DedupStrategy;
  pool?: number;
  orderTtlMs?: number;
  feed?: string;
  allowFaultInjection?: boolean;
}

/**
 * `hedge replica`'s arguments for `settings`, durations with their unit. The
 * database URL is not among them: it carries a password, and argv is public
 * (spawners pass DATABASE_URL in the child's environment).
 */
export function replicaArgs(s: ReplicaSettings): string[] {
  const flag = (setting: Setting<unknown>) => setting.flag.split(' ')[0] as string;
  return [
    'replica',
    ...(s.id !== undefined ? ['--id', s.id] : []),
    ...(s.dataDir !== undefined ? [flag(DATA_DIR), s.dataDir] : []),
    ...(s.ownerPid !== undefined ? [flag(OWNER_PID), String(s.ownerPid)] : []),
    ...(s.dedup !== undefined ? [flag(DEDUP), s.dedup] : []),
    ...(s.pool !== undefined ? [flag(POOL), String(s.pool)] : []),
    ...(s.orderTtlMs !== undefined ? [flag(ORDER_TTL), formatDuration(s.orderTtlMs)] : []),
    ...(s.feed !== undefined ? [flag(FEED_ADDRESS), s.feed] : []),
    ...(s.allowFaultInjection ? ['--allow-fault-injection'] : []),
  ];
}
