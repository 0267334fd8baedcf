/**
 * The recent latencies of a client's calls, per method, and a quantile of them:
 * what the deferred mode waits before it sends a second copy (Dean and Barroso's
 * hedged request, "The Tail at Scale": the second copy after about the 95th
 * percentile, for some 5 % more load). A fixed ring of numbers, not an object per
 * sample, and the quantile recomputed only every REFRESH samples: the client's
 * hot path allocates nothing here.
 */
const SIZE = 512;
const REFRESH = 32;

class Window {
  private readonly samples = new Float64Array(SIZE);
  private readonly sorted = new Float64Array(SIZE);
  private count = 0;
  private sinceRefresh = 0;
  private cached: number;

  constructor(
    private readonly q: number,
    initialMs: number,
  ) {
    this.cached = initialMs;
  }

  add(ms: number): void {
    this.samples[this.count % SIZE] = ms;
    this.count += 1;
    this.sinceRefresh += 1;
    if (this.sinceRefresh >= REFRESH) this.refresh();
  }

  get quantile(): number {
    return this.cached;
  }

  private refresh(): void {
    this.sinceRefresh = 0;
    const n = Math.min(this.count, SIZE);
    const view = this.sorted.subarray(0, n);
    view.set(this.samples.subarray(0, n));
    view.sort();
    this.cached = view[Math.min(n - 1, Math.ceil(this.q * n) - 1)] as number;
  }
}

export class LatencyWindows {
  private readonly windows = new Map<string, Window>();

  /**
   * @param q the quantile given, e.g. 0.95
   * @param initialMs what it is until a method has REFRESH samples
   * @param floorMs the least it gives: a second copy sooner than this costs more than it saves
   */
  constructor(
    private readonly q: number,
    private readonly initialMs: number,
    private readonly floorMs: number,
  ) {}

  add(method: string, ms: number): void {
    let w = this.windows.get(method);
    if (!w) {
      w = new Window(this.q, this.initialMs);
      this.windows.set(method, w);
    }
    w.add(ms);
  }

  quantile(method: string): number {
    return Math.max(this.floorMs, this.windows.get(method)?.quantile ?? this.initialMs);
  }
}
