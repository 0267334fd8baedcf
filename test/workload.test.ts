import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH, PACKAGE_ROOT } from '../src/common/paths.js';
import { verifyDatabase } from '../src/common/verify-database.js';
import { FaultInjector, type Injection } from '../src/fault-injector/injector.js';
import { replayWorkload } from '../src/workload/replay.js';
import { parseWorkload } from '../src/workload/workload-file.js';
import { type LogEvent, parseAuditLog, validateAuditLog } from './support/audit-log.js';
import { type Cluster, startCluster } from './support/cluster.js';
import { SpecModel } from './support/spec-model.js';
import { useTempDir } from './support/temp-dir.js';

const run = promisify(execFile);
const WORKLOADS = join(PACKAGE_ROOT, 'seng468/workloads');
/** No tick during a replay: no trigger fires, so the outcome depends on the commands alone. */
const NO_TICKS = 3_600_000;

function byTransaction(events: LogEvent[]): Map<number, LogEvent[]> {
  const map = new Map<number, LogEvent[]>();
  for (const e of events) {
    const n = Number(e.fields.transactionNum);
    map.set(n, [...(map.get(n) ?? []), e]);
  }
  return map;
}

/** `hedge workload FILE` against the cluster, its DUMPLOG files under `outDir`. */
function workloadCli(cluster: Cluster, file: string, outDir: string, ...extra: string[]) {
  return run(process.execPath, [
    CLI_PATH,
    'workload',
    file,
    '--manager',
    cluster.managerAddress,
    '--feed',
    cluster.feed.address,
    '--data-dir',
    cluster.feed.dataDir,
    '--out',
    outDir,
    ...extra,
  ]);
}

describe('hedge workload', () => {
  const out = useTempDir('hedge-workload-');

  it('a file with no workload command (like /etc/passwd) is refused before the system is looked for', async () => {
    const dataDir = mkdtempSync(join(out.path, 'not-a-workload-'));
    const outcome = await run(
      process.execPath,
      [
        CLI_PATH,
        'workload',
        join(PACKAGE_ROOT, 'test/fixtures/not-a-workload'),
        // Nothing listens here: the refusal must come before any connection.
        '--manager',
        '127.0.0.1:1',
        '--feed',
        '127.0.0.1:1',
        '--data-dir',
        dataDir,
        '--out',
        join(dataDir, 'out'),
      ],
      { timeout: 40_000 },
    ).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({
        code: err.code,
        stdout: err.stdout ?? '',
        stderr: err.stderr ?? '',
      }),
    );
    expect(outcome).toEqual({
      code: 1,
      stdout: '',
      stderr: expect.stringMatching(
        /^hedge: the workload file .*not-a-workload has no workload command \(\[N\] COMMAND,args… per line\) in its 3 non-empty lines\n$/,
      ),
    });
    // No workload secret, no output folder: nothing ran.
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('replays the 1-user file; every line leaves exactly what SPEC.md says, and the log validates', async () => {
    const price = 12_345n;
    const cluster = await startCluster([], { anySymbol: true, prices: { S: price }, tickMs: NO_TICKS });
    try {
      const file = join(WORKLOADS, '1userWorkLoad');
      const { stdout } = await workloadCli(cluster, file, out.path, '--json');
      const summary = JSON.parse(stdout);
      expect(Object.keys(summary)).toEqual(
        expect.arrayContaining([
          'commands',
          'ok',
          'errors',
          'infra_failures',
          'seconds',
          'commands_per_s',
          'log',
        ]),
      );
      expect(summary).toMatchObject({ commands: 100, infra_failures: 0, log: join(out.path, 'testLOG') });

      const xml = readFileSync(summary.log, 'utf8');
      expect(await validateAuditLog(xml)).toEqual([]);
      const events = byTransaction(parseAuditLog(xml));
      const model = new SpecModel(price);
      let refused = 0;
      for (const line of parseWorkload(readFileSync(file, 'utf8')).lines) {
        const expected = model.apply(line.command, line.args);
        const mine = events.get(line.num) ?? [];
        const of = (type: string) => mine.filter((e) => e.type === type);
        const label = `[${line.num}] ${line.command},${line.args.join(',')}`;
        expect(
          of('userCommand').map((e) => e.fields.command),
          label,
        ).toEqual([line.command]);
        expect(of('errorEvent').length, label).toBe(expected.refused ? 1 : 0);
        expect(
          of('accountTransaction').map((e) => `${e.fields.action} ${e.fields.funds}`),
          label,
        ).toEqual(expected.accounts);
        expect(of('quoteServer').length, label).toBe(expected.quotes);
        expect(of('systemEvent'), label).toEqual([]);
        for (const e of mine) {
          expect(e.fields.server, label).toMatch(/^r\d$/);
          if (e.fields.funds) expect(e.fields.funds, label).toMatch(/^-?\d+\.\d{2}$/);
          if (e.type !== 'userCommand' || line.command !== 'DUMPLOG') {
            expect(e.fields.username, label).toBe('oY01WVirLr');
          }
        }
        for (const q of of('quoteServer')) {
          expect(q.fields.price).toBe('123.45');
          expect(Buffer.from(q.fields.cryptokey ?? '', 'base64').length).toBe(256);
        }
        if (expected.refused) refused += 1;
      }
      expect(summary.errors).toBe(refused);
      expect(summary.refusals.reduce((sum: number, r: { count: number }) => sum + r.count, 0)).toBe(refused);
      expect(summary).toMatchObject({ skipped: 0, skipped_lines: [] });
      expect(summary.ok).toBe(100 - refused);
      const dump = events.get(100)?.find((e) => e.type === 'userCommand');
      expect(dump?.fields).toMatchObject({ command: 'DUMPLOG', filename: './testLOG' });

      // The model's final balances are the database's.
      const { rows } = await cluster.db.pool.query(
        `SELECT a.cash, a.reserved_cash, coalesce(h.shares, 0) AS shares, coalesce(h.reserved_shares, 0) AS reserved_shares
         FROM accounts a JOIN users u ON u.id = a.user_id LEFT JOIN holdings h ON h.user_id = a.user_id AND h.symbol = 'S'
         WHERE u.username = 'oY01WVirLr'`,
      );
      expect(rows[0]).toEqual({
        cash: String(model.cash),
        reserved_cash: String(model.reserved),
        shares: String(model.shares),
        reserved_shares: String(model.reservedShares),
      });
      expect((await verifyDatabase(cluster.db.pool)).violations).toEqual([]);
    } finally {
      await cluster.stop();
    }
  });

  describe('a workload file of its own', () => {
    let cluster: Cluster;
    const dir = useTempDir('hedge-workload-own-');
    beforeAll(async () => {
      cluster = await startCluster([], { anySymbol: true, prices: { S: 1_000n }, tickMs: NO_TICKS });
    });
    afterAll(async () => {
      await cluster?.stop();
    });

    /** Writes `lines` as a workload file and returns a runner of `hedge workload` on it into `outDir`. */
    function workloadOf(name: string, lines: string[]) {
      const file = join(dir.path, name);
      writeFileSync(file, `${lines.join('\n')}\n`);
      const outDir = join(dir.path, `${name}-out`);
      return { outDir, workload: (...extra: string[]) => workloadCli(cluster, file, outDir, ...extra) };
    }

    it('lines that are no command are skipped and reported with their numbers; the rest replays and its log validates', async () => {
      const { outDir, workload } = workloadOf('bad-lines', [
        '[1] ADD,wlUserA,100.00',
        '[2] FROBNICATE,abc',
        '[3] COMMIT_SELL,wlUserA',
        '[4] BUY,wlUserA,ABCDEFG,10.00',
        'this line is no command',
        '[5] QUOTE,wlUserA,S',
        '[6] DUMPLOG,./testLOG',
      ]);
      const summary = JSON.parse((await workload('--json')).stdout);
      expect(summary).toMatchObject({
        commands: 5,
        ok: 3,
        errors: 2,
        infra_failures: 0,
        skipped: 2,
        skipped_lines: [
          { line: 2, text: '[2] FROBNICATE,abc' },
          { line: 5, text: 'this line is no command' },
        ],
        log: join(outDir, 'testLOG'),
      });
      // The 7-letter symbol is refused, and logged so that the log still validates.
      const xml = readFileSync(summary.log, 'utf8');
      expect(await validateAuditLog(xml)).toEqual([]);
      const events = byTransaction(parseAuditLog(xml).filter((e) => e.fields.username !== 'wlUserB'));
      expect(events.get(2)).toBeUndefined();
      for (const n of [1, 3, 4, 5, 6]) {
        expect(events.get(n)?.filter((e) => e.type === 'userCommand').length, `[${n}]`).toBe(1);
      }
      expect(events.get(4)?.map((e) => e.type)).toEqual(['userCommand', 'errorEvent']);

      const { stdout } = await workload('--force');
      expect(stdout).toMatch(/^5 commands .* 3 ok, 2 refused, 0 infrastructure failures; 2 lines skipped;/);
      expect(stdout).toContain(
        'skipped, not a workload command:\n  line 2: "[2] FROBNICATE,abc"\n  line 5: "this line is no command"\n',
      );
    });

    it("the summary tells refusals by command and reason, and an earlier run's log in --out is kept unless --force", async () => {
      const { outDir, workload } = workloadOf('refusals', [
        '[1] ADD,wlUserB,100.00',
        '[2] COMMIT_SELL,wlUserB',
        '[3] COMMIT_SELL,wlUserB',
        '[4] ADD,wlUserB,99999999999999999999.99',
        '[5] CANCEL_SET_BUY,wlUserB,S',
        '[6] DUMPLOG,./testLOG',
      ]);
      const summary = JSON.parse((await workload('--json')).stdout);
      expect(summary).toMatchObject({ commands: 6, ok: 2, errors: 4, log: join(outDir, 'testLOG') });
      expect(summary.refusals).toEqual([
        {
          command: 'COMMIT_SELL',
          reason: 'NOTHING_PENDING',
          count: 2,
          message: 'there is no unexpired pending sell to commit',
        },
        {
          command: 'ADD',
          reason: 'INVALID_AMOUNT',
          count: 1,
          message: expect.stringContaining('over the limit: at most 10000000000000.00'),
        },
        {
          command: 'CANCEL_SET_BUY',
          reason: 'NO_TRIGGER',
          count: 1,
          message: 'there is no buy trigger on S to cancel',
        },
      ]);
      const xml = readFileSync(summary.log, 'utf8');

      // A second run into the same --out refuses before anything runs, and the first log stays.
      const again = await workload().then(
        () => undefined,
        (err: { code: number; stderr: string }) => err,
      );
      expect(again?.code).toBe(1);
      expect(again?.stderr).toContain(`${join(outDir, 'testLOG')} already exists`);
      expect(again?.stderr).toContain('--force');
      expect(readFileSync(summary.log, 'utf8')).toBe(xml);

      // With --force it runs, and the human summary has the same breakdown.
      const { stdout } = await workload('--force');
      expect(stdout).toMatch(/^6 commands \(1 users, active\).* 2 ok, 4 refused, 0 infrastructure failures;/);
      expect(stdout).toContain('refused, by command and reason:\n');
      expect(stdout).toMatch(
        /\n\s+2 {2}COMMIT_SELL\s+NOTHING_PENDING\s+there is no unexpired pending sell to commit\n/,
      );
      expect(stdout).toMatch(
        /\n\s+1 {2}ADD\s+INVALID_AMOUNT\s+amount is over the limit: at most 10000000000000\.00/,
      );
      expect(readFileSync(summary.log, 'utf8')).not.toBe(xml);
    });
  });

  /** Final accounts, holdings and audit-event counts, by username: what two replays must agree on. */
  async function outcome(c: Cluster) {
    const q = async (sql: string) => (await c.db.pool.query(sql)).rows;
    return {
      accounts:
        await q(`SELECT u.username, a.cash, a.reserved_cash FROM accounts a JOIN users u ON u.id = a.user_id
                         ORDER BY u.username`),
      holdings: await q(`SELECT u.username, h.symbol, h.shares, h.reserved_shares FROM holdings h
                         JOIN users u ON u.id = h.user_id ORDER BY u.username, h.symbol`),
      events: await q(`SELECT event_type, command, count(*)::int AS n FROM audit_events
                       GROUP BY 1, 2 ORDER BY 1, 2`),
      pending: await q(
        `SELECT state, side, count(*)::int AS n FROM pending_orders GROUP BY 1, 2 ORDER BY 1, 2`,
      ),
    };
  }

  async function replayTenUsers(crashEveryMs?: number) {
    const cluster = await startCluster(['--order-ttl', '1h'], { anySymbol: true, tickMs: NO_TICKS });
    const injections: Injection[] = [];
    const injector = crashEveryMs
      ? new FaultInjector(
          {
            manager: cluster.managerAddress,
            kinds: ['crash'],
            everyMs: crashEveryMs,
            seed: 5,
            minimum: 2,
            hangMs: 0,
            slowDelayMs: 0,
            slowDurationMs: 0,
          },
          (i) => injections.push(i),
        )
      : undefined;
    try {
      injector?.start();
      const summary = await replayWorkload({
        file: join(WORKLOADS, '10User_testWorkLoad'),
        manager: cluster.managerAddress,
        feed: cluster.feed.address,
        dataDir: cluster.feed.dataDir,
        mode: 'active',
        concurrency: 10,
        outDir: join(out.path, crashEveryMs ? 'crash' : 'calm'),
      });
      injector?.stop();
      await injector?.finished;
      const report = await verifyDatabase(cluster.db.pool);
      return { summary, report, injections, outcome: await outcome(cluster), cluster };
    } catch (err) {
      injector?.stop();
      await cluster.stop();
      throw err;
    }
  }

  it('the 10-user file gives the same accounts, holdings and log whether or not a replica is SIGKILLed every 5 s', async () => {
    const calm = await replayTenUsers();
    await calm.cluster.stop();
    const crashed = await replayTenUsers(5_000);
    try {
      for (const r of [calm, crashed]) {
        expect(r.summary).toMatchObject({ commands: 10_000, infra_failures: 0 });
        expect(r.report.violations).toEqual([]);
        expect(r.report.duplicate_effects).toBe(0);
      }
      expect(crashed.injections.filter((i) => i.outcome === 'injected').length).toBeGreaterThanOrEqual(2);
      expect(crashed.outcome).toEqual(calm.outcome);
      expect(crashed.summary.errors).toBe(calm.summary.errors);

      const xml = readFileSync(crashed.summary.log ?? '', 'utf8');
      expect(await validateAuditLog(xml)).toEqual([]);
      const events = parseAuditLog(xml);
      expect(events.filter((e) => e.type === 'userCommand').length).toBe(10_000);
      // [9962] ADD,umhaEY4lil,-73280.58: refused, logged, and nothing else.
      const line = events.filter((e) => e.fields.transactionNum === '9962');
      expect(line.map((e) => e.type)).toEqual(['userCommand', 'errorEvent']);
      expect(line[0]?.fields).toMatchObject({ command: 'ADD', username: 'umhaEY4lil', funds: '-73280.58' });
      expect(line[1]?.fields.errorMessage).toMatch(/greater than zero/);
    } finally {
      await crashed.cluster.stop();
    }
  }, 240_000);
});
