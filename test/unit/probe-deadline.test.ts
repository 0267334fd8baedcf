import { describe, expect, it } from 'vitest';
import { usageChanged } from '../../src/agent/host-replicas.js';
import {
  AnswerLatency,
  PROBE_CEILING_MS,
  PROBE_FLOOR_MS,
} from '../../src/replication-manager/probe-deadline.js';

describe("a silent host's replica's probe deadline", () => {
  it('is the floor for a replica that answers in milliseconds, doubling after each miss up to the ceiling', () => {
    const latency = new AnswerLatency();
    expect(latency.probeDeadlineMs(0)).toBe(PROBE_FLOOR_MS);
    for (let i = 0; i < 20; i++) latency.answered(3);
    expect([0, 1, 2, 3, 4].map((m) => latency.probeDeadlineMs(m))).toEqual([250, 500, 1000, 2000, 2000]);
    expect(latency.probeDeadlineMs(40)).toBe(PROBE_CEILING_MS);
  });

  it('follows a slow link: three times the recent high percentile of the answers, the old fast ones forgotten', () => {
    const latency = new AnswerLatency();
    for (let i = 0; i < 20; i++) latency.answered(2);
    // A 400 ms round trip (a 200 ms delay each way): above a 250 ms probe, below this one.
    for (let i = 0; i < 20; i++) latency.answered(400);
    expect(latency.highMs()).toBe(400);
    expect(latency.probeDeadlineMs(0)).toBe(1200);
    // One slow answer in twenty is below the 90th percentile: it does not raise the deadline.
    const mostlyFast = new AnswerLatency();
    for (let i = 0; i < 19; i++) mostlyFast.answered(5);
    mostlyFast.answered(1500);
    expect(mostlyFast.probeDeadlineMs(0)).toBe(PROBE_FLOOR_MS);
  });
});

describe("a replica's resident memory, told by its agent", () => {
  it('is told at its first measure and then on a change of 1 MiB either way, not on every page', () => {
    const MiB = 1024 * 1024;
    expect(usageChanged(undefined, 90 * MiB)).toBe(true);
    expect(usageChanged(90 * MiB, 90 * MiB + 4096)).toBe(false);
    expect(usageChanged(90 * MiB, 91 * MiB - 1)).toBe(false);
    expect(usageChanged(90 * MiB, 91 * MiB)).toBe(true);
    expect(usageChanged(90 * MiB, 89 * MiB)).toBe(true);
  });
});
