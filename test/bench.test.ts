import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { faultOffsets } from '../src/bench/run-bench.js';
import { CLI_PATH, makeTempDataDir } from '../src/common/paths.js';

const run = promisify(execFile);

describe('hedge bench', () => {
  const root = makeTempDataDir('hedge-bench-test-');
  const out = join(root, 'results');
  const tmp = join(root, 'tmp');
  mkdirSync(tmp);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('schedules faults inside the measured time, one per interval', () => {
    expect(faultOffsets(20_000, 10_000)).toEqual([5_000, 15_000]);
    expect(faultOffsets(30_000, 15_000)).toEqual([7_500, 22_500]);
    expect(faultOffsets(3_000, 1_500)).toEqual([750]);
  });

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
        '--out',
        out,
        '--json',
      ],
      // Its own temporary directory, to see that the bench leaves nothing there.
      { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, TMPDIR: tmp } },
    );
    expect(readdirSync(tmp)).toEqual([]);
    const printed = JSON.parse(stdout);
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

    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.runs).toEqual(printed.runs);
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
    expect(requests.some((r) => r.config === 'active' && r.fault === 'crash' && r.fault_in_flight)).toBe(
      true,
    );
    const faults = readFileSync(join(out, 'faults.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(faults[0]).toEqual(
      expect.objectContaining({ config: 'active', kind: 'crash', injected_at_ms: expect.any(Number) }),
    );

    const report = readFileSync(join(out, 'report.md'), 'utf8');
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
    }
  });
});
