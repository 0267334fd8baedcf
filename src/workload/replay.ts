import { existsSync, type WriteStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { status } from '@grpc/grpc-js';
import { DayTradingSession } from '../client/day-trading-session.js';
import { QuoteSource } from '../client/quote-source.js';
import { ReplicatedCallError, ReplicatedClient } from '../client/replicated-client.js';
import type { ReplicationMode } from '../client/replication-mode.js';
import { TradingSession } from '../client/trading-session.js';
import { ADMIN_USERNAME, adminPasswordPath } from '../common/admin.js';
import { isRetryable } from '../common/errors.js';
import { readSecret } from '../common/secret-file.js';
import type { SignedQuote__Output } from '../gen/hedge/v1/SignedQuote.js';
import {
  byUser,
  dumpFilename,
  isWholeLogDump,
  readWorkload,
  type SkippedLine,
  type WorkloadCommand,
  type WorkloadLine,
} from './workload-file.js';
import { workloadPassword, workloadSecret } from './workload-users.js';

export interface ReplayOptions {
  file: string;
  manager: string;
  feed: string;
  /** Holds the workload secret, and by default the administrator's password. */
  dataDir: string;
  adminPasswordFile?: string;
  mode: ReplicationMode;
  /** Users replayed at once (each user's commands in order). */
  concurrency: number;
  /** Where DUMPLOG writes the files it names. */
  outDir: string;
  /** Replace files already in outDir (an earlier run's log); without it the replay refuses to start. */
  overwrite?: boolean;
  deadlineMs?: number;
  onProgress?: (progress: ReplayProgress) => void;
}

export interface ReplayProgress {
  done: number;
  total: number;
  infraFailures: number;
  elapsedMs: number;
}

export interface ReplaySummary {
  commands: number;
  ok: number;
  /** Commands the system refused (the workloads contain many invalid ones on purpose). */
  errors: number;
  /** The refusals by command and reason, the most frequent first. */
  refusals: Refusal[];
  /** Commands no replica answered within the client's deadline. */
  infra_failures: number;
  seconds: number;
  commands_per_s: number;
  /** The file the final DUMPLOG wrote, if there was one. */
  log: string | null;
  users: number;
  /** Registering or logging in every user, before the timed replay. */
  setup_seconds: number;
  mode: ReplicationMode;
  /** Lines of the file that are no workload command: not replayed, not in `commands`. */
  skipped: number;
  skipped_lines: SkippedLine[];
}

export interface Refusal {
  command: WorkloadCommand;
  /** The hedge-reason the system gave (its status name if it gave none). */
  reason: string;
  count: number;
  /** The message of the first such refusal (the others differ only in their particulars). */
  message: string;
}

const SIGN_IN_CONCURRENCY = 4;

/** Runs `work` over `items` with at most `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

/** A file DUMPLOG names, inside the output folder (a name that would leave it is refused). */
function outputFile(outDir: string, filename: string): string {
  const path = resolve(outDir, filename);
  const rel = relative(resolve(outDir), path);
  if (rel.startsWith('..') || rel === '')
    throw new Error(`DUMPLOG file ${JSON.stringify(filename)} is outside ${outDir}`);
  return path;
}

/**
 * The files the DUMPLOG lines write, checked before anything runs: each inside
 * outDir, and none there already unless `overwrite` (an earlier run's log is
 * not replaced silently).
 */
function dumpTargets(lines: WorkloadLine[], outDir: string, overwrite: boolean): Set<string> {
  const targets = new Set(
    lines.filter((l) => l.command === 'DUMPLOG').map((l) => outputFile(outDir, dumpFilename(l))),
  );
  const existing = overwrite ? [] : [...targets].filter((path) => existsSync(path));
  if (existing.length > 0) {
    throw new Error(
      `${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''} (an earlier run's log?); ` +
        'choose another --out, or pass --force to overwrite',
    );
  }
  return targets;
}

async function writeLog(
  day: DayTradingSession,
  outDir: string,
  filename: string,
  whole: boolean,
  num: number,
  written: Set<string>,
  overwrite: boolean,
): Promise<string> {
  const path = outputFile(outDir, filename);
  // The first write of a file in this run creates it ('wx': a file that appeared since the start is not
  // replaced); a later DUMPLOG of the same name in this run replaces it, as the workload asks.
  const flags = overwrite || written.has(path) ? 'w' : 'wx';
  written.add(path);
  // Other users' commands are running: no synchronous file system call here.
  await mkdir(dirname(path), { recursive: true });
  // Opened first, so that a file that appeared since the start is an error here, not on the stream.
  const out: WriteStream = (await open(path, flags)).createWriteStream();
  try {
    await day.dumpLog(filename, whole, num, (xml) => {
      if (!out.write(xml)) return new Promise((r) => out.once('drain', r));
    });
  } finally {
    await new Promise((r) => out.end(r));
  }
  return path;
}

/**
 * `hedge workload`: replays a SEng 468 workload file through the replicated
 * client. Each user's commands run in file order, users in parallel; a line's
 * [N] is its transactionNum; the final DUMPLOG, the administrator's, runs after
 * everything else and writes the whole log where it says.
 */
export async function replayWorkload(options: ReplayOptions): Promise<ReplaySummary> {
  const { lines, skipped } = readWorkload(options.file);
  const overwrite = options.overwrite ?? false;
  dumpTargets(lines, options.outDir, overwrite);
  const written = new Set<string>();
  const users = byUser(lines);
  const finals = lines.filter(isWholeLogDump);
  const secret = workloadSecret(options.dataDir);
  const client = await ReplicatedClient.connect({
    manager: options.manager,
    mode: options.mode,
    deadlineMs: options.deadlineMs,
  });
  const quotes = new QuoteSource(options.feed);
  const counts = { done: 0, ok: 0, errors: 0, infra: 0 };
  const refusals = new Map<string, Refusal>();
  let log: string | null = null;
  try {
    const setupStart = performance.now();
    const sessions = new Map<string, DayTradingSession>();
    await eachLimited([...users.keys()], SIGN_IN_CONCURRENCY, async (username) => {
      const session = new TradingSession(client);
      await session.signIn(username, workloadPassword(secret, username));
      sessions.set(username, new DayTradingSession(session));
    });
    const setupSeconds = (performance.now() - setupStart) / 1000;

    const start = performance.now();
    const progress = setInterval(
      () =>
        options.onProgress?.({
          done: counts.done,
          total: lines.length,
          infraFailures: counts.infra,
          elapsedMs: performance.now() - start,
        }),
      500,
    );
    const count = async (command: WorkloadCommand, attempt: () => Promise<unknown>) => {
      try {
        await attempt();
        counts.ok += 1;
      } catch (err) {
        if (!(err instanceof ReplicatedCallError)) throw err;
        if (isRetryable(err.code)) counts.infra += 1;
        else {
          counts.errors += 1;
          const reason = err.reason ?? status[err.code] ?? String(err.code);
          const key = `${command} ${reason}`;
          const seen = refusals.get(key);
          if (seen) seen.count += 1;
          else refusals.set(key, { command, reason, count: 1, message: err.details });
        }
      } finally {
        counts.done += 1;
      }
    };
    const quoteOrNull = (symbol: string): Promise<SignedQuote__Output | null> =>
      quotes.get(symbol).catch(() => null);
    /** What each command calls, given its line's arguments after the user (`a`, `b`) and its number `n`. */
    const calls: Record<
      WorkloadCommand,
      (day: DayTradingSession, a: string, b: string, n: number) => Promise<unknown>
    > = {
      ADD: (day, a, _b, n) => day.add(a, n),
      QUOTE: async (day, a, _b, n) => day.quote(a, await quoteOrNull(a), n),
      BUY: async (day, a, b, n) => day.buy(a, b, await quoteOrNull(a), n),
      SELL: async (day, a, b, n) => day.sell(a, b, await quoteOrNull(a), n),
      COMMIT_BUY: (day, _a, _b, n) => day.commitBuy(n),
      CANCEL_BUY: (day, _a, _b, n) => day.cancelBuy(n),
      COMMIT_SELL: (day, _a, _b, n) => day.commitSell(n),
      CANCEL_SELL: (day, _a, _b, n) => day.cancelSell(n),
      SET_BUY_AMOUNT: (day, a, b, n) => day.setBuyAmount(a, b, n),
      SET_BUY_TRIGGER: (day, a, b, n) => day.setBuyTrigger(a, b, n),
      CANCEL_SET_BUY: (day, a, _b, n) => day.cancelSetBuy(a, n),
      SET_SELL_AMOUNT: (day, a, b, n) => day.setSellAmount(a, b, n),
      SET_SELL_TRIGGER: (day, a, b, n) => day.setSellTrigger(a, b, n),
      CANCEL_SET_SELL: (day, a, _b, n) => day.cancelSetSell(a, n),
      DISPLAY_SUMMARY: (day, _a, _b, n) => day.displaySummary(n),
      DUMPLOG: (day, a, _b, n) => writeLog(day, options.outDir, a, false, n, written, overwrite),
    };
    const run = (day: DayTradingSession, line: WorkloadLine) => {
      const [, a = '', b = ''] = line.args;
      return calls[line.command](day, a, b, line.num);
    };
    try {
      await eachLimited([...users.entries()], options.concurrency, async ([username, userLines]) => {
        const day = sessions.get(username) as DayTradingSession;
        for (const line of userLines) await count(line.command, () => run(day, line));
      });
      if (finals.length > 0) {
        const admin = new TradingSession(client);
        const adminFile = options.adminPasswordFile ?? adminPasswordPath(options.dataDir);
        await admin.login(ADMIN_USERNAME, readSecret(adminFile));
        const day = new DayTradingSession(admin);
        for (const line of finals) {
          await count(line.command, async () => {
            log = await writeLog(day, options.outDir, dumpFilename(line), true, line.num, written, overwrite);
          });
        }
      }
    } finally {
      clearInterval(progress);
    }
    const seconds = (performance.now() - start) / 1000;
    return {
      commands: lines.length,
      ok: counts.ok,
      errors: counts.errors,
      refusals: [...refusals.values()].sort(
        (x, y) => y.count - x.count || x.command.localeCompare(y.command) || x.reason.localeCompare(y.reason),
      ),
      infra_failures: counts.infra,
      seconds: Math.round(seconds * 100) / 100,
      commands_per_s: Math.round((lines.length / seconds) * 10) / 10,
      log,
      users: users.size,
      setup_seconds: Math.round(setupSeconds * 100) / 100,
      mode: options.mode,
      skipped: skipped.length,
      skipped_lines: skipped,
    };
  } finally {
    quotes.close();
    client.close();
  }
}
