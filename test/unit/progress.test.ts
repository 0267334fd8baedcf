import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Progress } from '../../src/bench/progress.js';

/** A Progress writing to a pipe (not a terminal: a plain line every 5 s), and the lines it wrote. */
function piped() {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const progress = new Progress(out as unknown as NodeJS.WriteStream);
  return { progress, lines: () => text.trim().split('\n') };
}

describe('the bench progress line', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('in the warm-up says so, with no rate or latency (none is recorded then)', () => {
    const { progress, lines } = piped();
    progress.start('[active · crash · 200/s]', 6_000, 20_000);
    vi.advanceTimersByTime(5_000);
    progress.stop();
    expect(lines()).toEqual(['[active · crash · 200/s]  warm-up 5/6 s']);
  });

  it('in the measured time shows its seconds, the last second’s rate and p99 so far', () => {
    const { progress, lines } = piped();
    progress.start('[active · none · 200/s]', 2_000, 20_000);
    vi.advanceTimersByTime(9_000);
    for (const ms of [1, 2, 30]) progress.record(ms);
    vi.advanceTimersByTime(1_000);
    progress.stop();
    expect(lines().at(-1)).toBe('[active · none · 200/s]  8/20 s  3 req/s  p99 so far 30.0 ms');
  });

  it('past the measured time never counts beyond it', () => {
    const { progress, lines } = piped();
    progress.start('[passive · hang · 200/s]', 1_000, 8_000);
    vi.advanceTimersByTime(15_000);
    progress.stop();
    expect(lines()).toEqual([
      '[passive · hang · 200/s]  4/8 s  0 req/s',
      '[passive · hang · 200/s]  8/8 s  waiting for the last requests',
      '[passive · hang · 200/s]  8/8 s  waiting for the last requests',
    ]);
  });
});
