import { hash32 } from '../common/random.js';
import { isSymbol } from '../common/symbols.js';

export interface PriceModelOptions {
  /** The symbols quoted from the start. */
  symbols: string[];
  /** Also quote any well-formed symbol, created on first request (the SEng 468 quote server did). */
  anySymbol?: boolean;
  seed: number;
  /** 'fixed' never moves a price: reproducible runs and tests. */
  mode: 'walk' | 'fixed';
  /** The tick interval: tick n is [n·tickMs, (n+1)·tickMs) in ms since the Unix epoch. */
  tickMs: number;
  /** The largest step of one tick, in basis points of the symbol's base price. */
  maxStepBp?: number;
  /** Base prices in cents that override the seeded ones. */
  initialPrices?: Map<string, bigint>;
}

/**
 * How many of the latest steps a price is made of. On scales shorter than this
 * a price moves like a random walk (each tick adds a fresh step and drops one
 * this far back); over longer ones it stays in a band around its base price:
 * with the default ±50 bp steps one standard deviation is about ±9 %.
 */
export const WALK_WINDOW = 1_000;
/** The sum of steps is kept within ±50 % of the base price (5.5 standard deviations of the default walk). */
const MAX_OFFSET_BP = 5_000;

/** murmur3's finalizer: every input bit moves every output bit, which FNV alone does not for counters. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Tick `index`'s step of a symbol, in whole basis points within ±maxStepBp: a hash of (seed, symbol, index). */
export function stepBp(symbolHash: number, index: number, maxStepBp: number): number {
  const low = index % 2 ** 32;
  const high = Math.floor(index / 2 ** 32);
  const h = fmix32(fmix32(symbolHash ^ low) ^ fmix32(high + 0x9e3779b9));
  return (h % (2 * maxStepBp + 1)) - maxStepBp;
}

/** The running sum of one symbol's steps, kept for the last tick asked so the next one costs two steps. */
interface WindowSum {
  index: number;
  sumBp: number;
}

/**
 * Prices in integer cents, a pure function of (seed, symbol, tick index): the
 * price at tick n is the base price moved by the sum of the hashed steps of
 * ticks n-WALK_WINDOW+1 .. n, clamped to ±50 % and never below one cent. So two
 * feeds with the same seed, tick interval and base prices quote the same price
 * for the same tick, a restarted feed carries on the same walk, and a tick is
 * computed without replaying history: from scratch in WALK_WINDOW steps, from
 * the tick before in two. (A closed form such as a hashed Brownian bridge would
 * be unbounded in time and needs floating point, which is not exact across
 * machines; this is integer arithmetic throughout.)
 */
export class PriceModel {
  private readonly bases = new Map<string, bigint>();
  private readonly sums = new Map<string, WindowSum>();
  private readonly maxStepBp: number;
  private lastSequence = 0n;

  constructor(
    private readonly options: PriceModelOptions,
    private readonly clock: () => number = Date.now,
  ) {
    if (!Number.isInteger(options.tickMs) || options.tickMs < 1) throw new Error('tickMs must be ≥ 1');
    this.maxStepBp = options.maxStepBp ?? 50;
    for (const symbol of options.symbols) this.bases.set(symbol, this.basePrice(symbol));
  }

  symbols(): string[] {
    return [...this.bases.keys()];
  }

  /** The tick the clock is in: floor(now / tickMs). */
  tickIndexAt(nowMs: number): bigint {
    return BigInt(Math.floor(nowMs / this.options.tickMs));
  }

  /**
   * The current tick's index, which quotes carry as their sequence: it goes on
   * increasing across restarts, and every feed with this tick interval agrees on
   * it. Never below one this model already gave, should the clock step back.
   */
  get sequence(): bigint {
    const now = this.tickIndexAt(this.clock());
    if (now > this.lastSequence) this.lastSequence = now;
    return this.lastSequence;
  }

  /** When tick `index` starts, in ms since the epoch. */
  tickStartMs(index: bigint): bigint {
    return index * BigInt(this.options.tickMs);
  }

  /** The current tick's price in cents, or undefined for a symbol this feed does not quote. */
  price(symbol: string): bigint | undefined {
    return this.priceAt(symbol, this.sequence);
  }

  /** The price in cents at tick `index`, or undefined for a symbol this feed does not quote. */
  priceAt(symbol: string, index: bigint): bigint | undefined {
    let base = this.bases.get(symbol);
    if (base === undefined) {
      if (!this.options.anySymbol || !isSymbol(symbol)) return undefined;
      base = this.basePrice(symbol);
      this.bases.set(symbol, base);
    }
    if (this.options.mode === 'fixed') return base;
    const sum = this.windowSum(symbol, Number(index));
    const offset = Math.max(-MAX_OFFSET_BP, Math.min(MAX_OFFSET_BP, sum));
    const price = (base * BigInt(10_000 + offset)) / 10_000n;
    return price < 1n ? 1n : price;
  }

  /** The sum of the steps of ticks index-WALK_WINDOW+1 .. index. */
  private windowSum(symbol: string, index: number): number {
    const symbolHash = hash32(symbol, this.options.seed);
    const step = (i: number) => stepBp(symbolHash, i, this.maxStepBp);
    const known = this.sums.get(symbol);
    let sumBp = 0;
    if (known && index >= known.index && index - known.index < WALK_WINDOW) {
      sumBp = known.sumBp;
      for (let i = known.index + 1; i <= index; i++) sumBp += step(i) - step(i - WALK_WINDOW);
    } else {
      for (let i = index - WALK_WINDOW + 1; i <= index; i++) sumBp += step(i);
    }
    // Only the newest tick is kept: a feed asks for the current tick, rarely an older one.
    if (!known || index >= known.index) this.sums.set(symbol, { index, sumBp });
    return sumBp;
  }

  /** Between $5.00 and $500.00, derived from the seed and the symbol alone. */
  private basePrice(symbol: string): bigint {
    return (
      this.options.initialPrices?.get(symbol) ?? BigInt(500 + (hash32(symbol, this.options.seed) % 49_501))
    );
  }
}
