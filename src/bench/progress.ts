import { percentile } from './stats.js';

/**
 * The live line while a run goes: configuration and fault, elapsed, requests per
 * second over the last second, and p99 so far. Redrawn in place on a terminal,
 * a plain line every 5 s otherwise.
 */
export class Progress {
  private latencies: number[] = [];
  private lastSecond = 0;
  private timer: NodeJS.Timeout | undefined;
  private started = 0;
  private ticks = 0;

  constructor(private readonly out: NodeJS.WriteStream) {}

  start(label: string, totalMs: number): void {
    this.latencies = [];
    this.lastSecond = 0;
    this.started = Date.now();
    this.ticks = 0;
    this.timer = setInterval(() => {
      this.ticks += 1;
      // Sorted in place: the next second's latencies land after a sorted prefix.
      const sorted = this.latencies.sort((a, b) => a - b);
      const line = `${label}  ${((Date.now() - this.started) / 1000).toFixed(0)}/${(totalMs / 1000).toFixed(0)} s  ${this.lastSecond} req/s  p99 so far ${sorted.length ? percentile(sorted, 0.99).toFixed(1) : '–'} ms`;
      this.lastSecond = 0;
      if (this.out.isTTY) this.out.write(`\r\x1b[2K${line}`);
      else if (this.ticks % 5 === 0) this.out.write(`${line}\n`);
    }, 1_000);
  }

  record(latencyMs: number): void {
    this.latencies.push(latencyMs);
    this.lastSecond += 1;
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.out.isTTY) this.out.write('\r\x1b[2K');
  }
}
