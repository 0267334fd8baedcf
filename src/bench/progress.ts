import { percentile } from './stats.js';

/**
 * The live line while a run goes: configuration and fault, then the warm-up's
 * seconds, or the measured seconds with requests per second over the last
 * second and p99 so far, or, past the measured time, that the last requests are
 * being waited for. Redrawn in place on a terminal, a plain line every 5 s
 * otherwise.
 */
export class Progress {
  /**
   * Latencies so far, unboxed, sorted natively once a second: sorting a plain array
   * with a comparator stalled the load generator's event loop for milliseconds
   * every second of a long run, which showed in the tail it measured.
   */
  private latencies = new Float64Array(4096);
  private count = 0;
  private lastSecond = 0;
  private timer: NodeJS.Timeout | undefined;
  private started = 0;
  private ticks = 0;

  constructor(private readonly out: NodeJS.WriteStream) {}

  start(label: string, warmupMs: number, durationMs: number): void {
    this.count = 0;
    this.lastSecond = 0;
    this.started = Date.now();
    this.ticks = 0;
    this.timer = setInterval(() => {
      this.ticks += 1;
      const line = `${label}  ${this.status(Date.now() - this.started, warmupMs, durationMs)}`;
      this.lastSecond = 0;
      if (this.out.isTTY) this.out.write(`\r\x1b[2K${line}`);
      else if (this.ticks % 5 === 0) this.out.write(`${line}\n`);
    }, 1_000);
  }

  private status(elapsedMs: number, warmupMs: number, durationMs: number): string {
    const s = (ms: number) => (ms / 1000).toFixed(0);
    // Requests of the warm-up are not recorded: it has no rate or latency to show.
    if (elapsedMs < warmupMs) return `warm-up ${s(elapsedMs)}/${s(warmupMs)} s`;
    const measuredMs = elapsedMs - warmupMs;
    if (measuredMs >= durationMs) return `${s(durationMs)}/${s(durationMs)} s  waiting for the last requests`;
    const sorted = this.latencies.subarray(0, this.count).sort();
    const p99 = sorted.length ? `  p99 so far ${percentile(sorted, 0.99).toFixed(1)} ms` : '';
    return `${s(measuredMs)}/${s(durationMs)} s  ${this.lastSecond} req/s${p99}`;
  }

  record(latencyMs: number): void {
    if (this.count === this.latencies.length) {
      const grown = new Float64Array(2 * this.count);
      grown.set(this.latencies);
      this.latencies = grown;
    }
    this.latencies[this.count] = latencyMs;
    this.count += 1;
    this.lastSecond += 1;
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.out.isTTY) this.out.write('\r\x1b[2K');
  }
}
