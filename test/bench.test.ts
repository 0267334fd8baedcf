import { execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { faultOffsets } from '../src/bench/run-bench.js';
import { CLI_PATH, PACKAGE_ROOT } from '../src/common/paths.js';
import { isHedgeReplica } from '../src/common/replica-process.js';
import { descendantsOf, waitUntilGone } from './support/processes.js';
import { textOutsideSvg } from './support/svg-text.js';
import { useTempDir } from './support/temp-dir.js';
import { waitFor } from './support/wait.js';

const run = promisify(execFile);
/** A file of three lines, none a workload command (like /etc/passwd). */
const NOT_A_WORKLOAD = join(PACKAGE_ROOT, 'test/fixtures/not-a-workload');

describe('hedge bench', () => {
  const root = useTempDir('hedge-bench-test-');
  let out = '';
  let tmp = '';
  beforeAll(() => {
    out = join(root.path, 'results');
    tmp = join(root.path, 'tmp');
    mkdirSync(tmp);
  });

  it('schedules faults inside the measured time, one per interval', () => {
    expect(faultOffsets(20_000, 10_000)).toEqual([5_000, 15_000]);
    expect(faultOffsets(30_000, 15_000)).toEqual([7_500, 22_500]);
    expect(faultOffsets(3_000, 1_500)).toEqual([750]);
  });

  /** Runs the CLI in an empty folder with its own TMPDIR; its exit code, stderr, and what it left in either. */
  async function attempt(args: string[]) {
    const cwd = mkdtempSync(join(root.path, 'cwd-'));
    const tmpdir = mkdtempSync(join(root.path, 'tmp-'));
    const outcome = await run(process.execPath, [CLI_PATH, ...args], {
      cwd,
      env: { ...process.env, TMPDIR: tmpdir },
      // The old code started a system for these; one that ran on is stopped, and fails the test.
      timeout: 40_000,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code?: number; stderr?: string }) => ({ code: err.code ?? -1, stderr: err.stderr ?? '' }),
    );
    return { ...outcome, left: [...readdirSync(cwd), ...readdirSync(tmpdir)] };
  }

  it.concurrent.each([
    [
      ['bench', '--duration', '0'],
      /'--duration <duration>' argument '0' is invalid\. expected a duration above zero/,
    ],
    [['bench', '--fault-interval', '0'], /'--fault-interval <duration>' argument '0' is invalid/],
    [
      [
        'bench',
        '--configs',
        'single,active',
        '--faults',
        'none,crash',
        '--duration',
        '5s',
        '--capacity-duration',
        '2s',
      ],
      /--fault-interval 10s injects no fault in --duration 5s.*under 8s or a --duration over 6s/,
    ],
    [
      ['bench', '--configs', 'active', '--faults', 'hang', '--duration', '1s', '--fault-interval', '1s'],
      /a fault run needs a --duration over 1\.5s/,
    ],
    [
      ['bench', '--clients', '0'],
      /'--clients <n>' argument '0' is invalid\. expected a whole number from 1 to 1024/,
    ],
    [['bench', '--rate', '-5'], /'--rate <n>' argument '-5' is invalid/],
    [['bench', '--hang-for', '0s'], /'--hang-for <duration>' argument '0s' is invalid/],
    [['bench', '--heartbeat-interval', '0'], /'--heartbeat-interval <duration>' argument '0' is invalid/],
    [['bench', '--configs', ','], /expected at least one configuration/],
    [
      ['bench', '--faults', 'crash,flood'],
      /unknown fault flood; expected none, crash, hang, db-primary, feed, overload, partition, host-crash/,
    ],
    [['bench', '--faults', 'none,partition'], /--faults partition needs hosts to lose: --hosts 3/],
    [['bench', '--faults', 'delay'], /--faults delay needs hosts to lose: --hosts 3/],
    [
      ['bench', '--host-delay-scope', 'out'],
      /'--host-delay-scope <scope>' argument 'out' is invalid\. expected one of all, incoming/,
    ],
    [
      ['bench', '--hosts', '3', '--faults', 'host-crash', '--host-down-for', '10s'],
      /--host-down-for 10s must be shorter than --fault-interval 10s/,
    ],
    [['bench-replica', '--duration', '0'], /'--duration <duration>' argument '0' is invalid/],
    [
      ['bench-replica', '--clients', '1,0'],
      /'--clients <list>' argument '1,0' is invalid\. expected a whole number from 1 to 1024/,
    ],
    [['bench-workload', 'no-such-workload-file'], /the workload file no-such-workload-file: ENOENT/],
    [
      ['bench-workload', NOT_A_WORKLOAD],
      /the workload file .*not-a-workload has no workload command \(\[N\] COMMAND,args… per line\) in its 3 non-empty lines/,
    ],
    [
      ['bench-workload', '--configs', 'single,hedged'],
      /unknown configuration hedged; expected single, passive, active/,
    ],
    [['bench-workload', '--concurrency', '0'], /'--concurrency <n>' argument '0' is invalid/],
  ])('refuses %j before starting anything', async (args, message) => {
    const { code, stderr, left } = await attempt(args as string[]);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(message as RegExp);
    // No results folder, no data directory: nothing was started.
    expect(left).toEqual([]);
  });

  it.concurrent.each([['bench'], ['bench-workload', join(PACKAGE_ROOT, 'seng468/workloads/1userWorkLoad')]])(
    '%s refuses an --out that holds files, before starting anything, and leaves them',
    async (...command) => {
      const earlier = mkdtempSync(join(root.path, 'earlier-'));
      writeFileSync(join(earlier, 'summary.json'), 'an earlier run\n');
      const { code, stderr, left } = await attempt([...command, '--out', earlier]);
      expect(code).toBe(1);
      expect(stderr).toContain(
        `--out ${earlier} is not empty (an earlier run's results?); choose another --out, or pass --force to overwrite`,
      );
      expect(left).toEqual([]);
      expect(readdirSync(earlier)).toEqual(['summary.json']);
      expect(readFileSync(join(earlier, 'summary.json'), 'utf8')).toBe('an earlier run\n');
    },
  );

  it('help: --fault-interval names one default, and --force is offered by bench and bench-workload', async () => {
    const bench = (await run(process.execPath, [CLI_PATH, 'bench', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(bench).toContain(
      '--fault-interval <duration> time between injected faults; the seed system used 15 s (default: 10s)',
    );
    expect(bench).not.toContain('(the seed');
    expect(bench).toContain('--force write into an --out that holds files');
    const workload = (await run(process.execPath, [CLI_PATH, 'bench-workload', '--help'])).stdout;
    expect(workload.replace(/\s+/g, ' ')).toContain('--force write into an --out that holds files');
  });

  it('interrupted (Ctrl-C) while its system runs, it stops every process it started and leaves no temporary directory', async () => {
    const tmpdir = mkdtempSync(join(root.path, 'tmp-'));
    // PostgreSQL runs as the postgres user under root: it must be able to enter the directory.
    chmodSync(tmpdir, 0o755);
    const bench = spawn(
      process.execPath,
      [
        CLI_PATH,
        'bench',
        '--configs',
        'single',
        '--faults',
        'none',
        '--duration',
        '5m',
        '--out',
        join(root.path, 'cut'),
      ],
      { env: { ...process.env, TMPDIR: tmpdir }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    bench.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => bench.once('exit', (code) => resolve(code)));
    try {
      const pid = bench.pid as number;
      // Its system is up: PostgreSQL, the manager and a replica run below it.
      await waitFor(
        'a replica below the bench',
        () => {
          if (bench.exitCode !== null) throw new Error(`the bench exited: ${stderr}`);
          return descendantsOf(pid).some(isHedgeReplica);
        },
        120_000,
        100,
      );
      expect(readdirSync(tmpdir).some((d) => d.startsWith('hedge-bench-'))).toBe(true);
      const started = descendantsOf(pid);
      bench.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(await waitUntilGone(started)).toEqual([]);
      expect(readdirSync(tmpdir)).toEqual([]);
    } finally {
      bench.kill('SIGKILL');
    }
  }, 180_000);

  it('a very short run writes raw data, summary.json, report.md and plots that parse', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        CLI_PATH,
        'bench',
        '--configs',
        'single,active',
        '--faults',
        'none,crash',
        '--clients',
        '2',
        '--rate',
        '40',
        '--duration',
        '3s',
        '--warmup',
        '500ms',
        '--fault-interval',
        '1500ms',
        '--capacity-duration',
        '1s',
        '--spares',
        '1',
        '--out',
        out,
      ],
      // Its own temporary directory, to see that the bench leaves nothing there.
      { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, TMPDIR: tmp } },
    );
    expect(readdirSync(tmp)).toEqual([]);
    const printed = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(printed.machine.cpus).toBeGreaterThan(0);
    expect(printed.runs.map((r: { config: string; fault: string }) => `${r.config}/${r.fault}`)).toEqual([
      'single/none',
      'active/none',
      'active/crash',
    ]);
    for (const r of printed.runs) {
      expect(Object.keys(r)).toEqual(
        expect.arrayContaining([
          'config',
          'fault',
          'spares',
          'clients',
          'duration_s',
          'requests',
          'failed',
          'duplicates',
          'throughput_rps',
          'latency_ms',
          'fault_free_mean_ms',
          'faulted_mean_ms',
          'failover_bound_ms',
          'detection_ms',
          'recovery_ms',
        ]),
      );
      expect(Object.keys(r.latency_ms)).toEqual(
        expect.arrayContaining(['mean', 'p50', 'p90', 'p99', 'p999', 'max']),
      );
      expect(r.requests).toBeGreaterThan(0);
      expect(r.failed).toBe(0);
      expect(r.duplicates).toBe(0);
    }
    const crash = printed.runs[2];
    expect(crash.detection_ms.max).not.toBeNull();
    expect(crash.recovery_ms.max).not.toBeNull();

    const summary = printed;
    expect(summary.capacity.map((c: { config: string }) => c.config)).toEqual(['single', 'active']);

    const requests = readFileSync(join(out, 'requests.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(requests.length).toBeGreaterThan(100);
    expect(requests[0]).toEqual(
      expect.objectContaining({
        config: 'single',
        start_ms: expect.any(Number),
        end_ms: expect.any(Number),
        attempts: 1,
      }),
    );
    const faults = readFileSync(join(out, 'faults.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    // A request is marked in flight exactly when it overlaps a fault of its run, from the
    // injection to the replacement serving. (Whether any request does is chance here: with a
    // warm spare the window is a few ms, between requests 25 ms apart.)
    for (const r of requests) {
      const overlaps = faults.some(
        (f) =>
          f.config === r.config &&
          f.kind === r.fault &&
          r.start_ms <= (f.recovered_at_ms ?? f.detected_at_ms ?? f.injected_at_ms + 30_000) &&
          r.end_ms >= f.injected_at_ms,
      );
      expect([r.request_id, r.fault_in_flight]).toEqual([r.request_id, overlaps]);
    }
    expect(faults[0]).toEqual(
      expect.objectContaining({ config: 'active', kind: 'crash', injected_at_ms: expect.any(Number) }),
    );
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    // Every row, in report.md and in the terminal, says how many faults its run really had.
    for (const r of summary.runs) {
      const had = faults.filter((f) => f.config === r.config && f.kind === r.fault).length;
      expect(r.faults).toBe(had);
      // `single` runs without spares; the others with the one asked for.
      expect(r.spares).toBe(r.config === 'single' ? 0 : 1);
      expect(report).toContain(`| ${r.config} | ${r.fault} | ${r.spares} | ${had} | 2 | ${r.requests} |`);
      expect(stdout).toMatch(
        new RegExp(`^${r.config} +${r.fault} +${r.spares} +${had} +2 +${r.requests} `, 'm'),
      );
    }
    // The seed's figures beside ours; "with a fault" and its bound exist only if a request was in
    // flight during the crash, which is chance here (see above).
    const overlapped = requests.some(
      (r) => r.config === 'active' && r.fault === 'crash' && r.fault_in_flight,
    );
    const faulted = overlapped ? '[\\d.]+ +[\\d.]+' : '– +–';
    expect(stdout).toMatch(new RegExp(`^active +[\\d.]+ +${faulted} +168 +278 +–$`, 'm'));
    expect(stdout).toContain(`results in ${out}/`);

    for (const heading of [
      '## Against the seed',
      '## Capacity',
      '## Latency and throughput',
      '## Faults',
      '## Plots',
    ]) {
      expect(report).toContain(heading);
    }
    expect(report).toMatch(/\| active \| [\d.]+ \| [\d.]+ \| [\d.]+ \| 168 \| 278 \|/);
    for (const svg of ['latency-over-time.svg', 'latency-cdf.svg']) {
      expect(existsSync(join(out, svg))).toBe(true);
      const text = readFileSync(join(out, svg), 'utf8');
      expect(text.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(text.trimEnd().endsWith('</svg>')).toBe(true);
      expect(text).not.toContain('NaN');
      expect(textOutsideSvg(text)).toEqual([]);
    }
    // Two managers, seven replica processes (one a warm spare), five runs: minutes on a loaded machine.
  }, 180_000);
});

describe('hedge bench-idle', () => {
  const root = useTempDir('hedge-bench-idle-test-');

  it('measures every process of an idle hedge up (spares and PostgreSQL included), then stops it and removes its directory', async () => {
    const tmp = join(root.path, 'tmp');
    mkdirSync(tmp);
    const { stdout } = await run(
      process.execPath,
      [CLI_PATH, 'bench-idle', '--duration', '2s', '--settle', '1s', '--spares', '1', '--json'],
      { env: { ...process.env, TMPDIR: tmp }, timeout: 180_000 },
    );
    const result = JSON.parse(stdout);
    const names = result.processes.map((p: { name: string }) => p.name);
    expect(names).toEqual(
      expect.arrayContaining(['up', 'db', 'postgres', 'feed', 'manager', 'replica r1', 'replica r4']),
    );
    const sum = result.processes.reduce(
      (a: number, p: { percent_of_core: number }) => a + p.percent_of_core,
      0,
    );
    expect(result.total_percent_of_core).toBeCloseTo(sum, 1);
    for (const p of result.processes) expect(p.percent_of_core).toBeGreaterThanOrEqual(0);
    expect(result.up_args).toEqual(['--spares', '1', '--heartbeat-interval', '2s']);
    // The temporary data directory it made for hedge up is gone.
    expect(readdirSync(tmp)).toEqual([]);
    // A whole hedge up starts and stops: minutes on a loaded 2-core machine.
  }, 180_000);
});
