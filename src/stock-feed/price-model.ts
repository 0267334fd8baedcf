import { hash32, mulberry32 } from '../common/random.js';
import { isSymbol } from '../common/symbols.js';

export interface PriceModelOptions {
  /** The symbols quoted from the start. */
  symbols: string[];
  /** Also quote any well-formed symbol, created on first request (the SEng 468 quote server did). */
  anySymbol?: boolean;
  seed: number;
  /** 'fixed' never moves a price: reproducible runs and tests. */
  mode: 'walk' | 'fixed';
  /** The largest move of one tick, in basis points of the price. */
  maxStepBp?: number;
  /** Starting prices in cents that override the seeded ones. */
  initialPrices?: Map<string, bigint>;
}

/**
 * Prices in integer cents as a seeded random walk: each tick moves every price by
 * a uniform step of at most maxStepBp basis points, never below one cent.
 */
export class PriceModel {
  private readonly prices = new Map<string, bigint>();
  private readonly random: () => number;
  private readonly maxStepBp: number;
  /**
   * The current tick's start in ms since the Unix epoch, and at least one more
   * than the previous tick's; quotes carry it as their sequence. A count from
   * zero would start again at every restart of the feed: a clock reading goes on
   * increasing across restarts, whatever tick interval each run uses.
   */
  sequence = BigInt(Date.now());

  constructor(private readonly options: PriceModelOptions) {
    this.random = mulberry32(options.seed);
    this.maxStepBp = options.maxStepBp ?? 50;
    for (const symbol of options.symbols) this.prices.set(symbol, this.initialPrice(symbol));
  }

  symbols(): string[] {
    return [...this.prices.keys()];
  }

  /** The current price in cents, or undefined for a symbol this feed does not quote. */
  price(symbol: string): bigint | undefined {
    const known = this.prices.get(symbol);
    if (known !== undefined || !this.options.anySymbol || !isSymbol(symbol)) return known;
    const price = this.initialPrice(symbol);
    this.prices.set(symbol, price);
    return price;
  }

  tick(): void {
    const now = BigInt(Date.now());
    this.sequence = now > this.sequence ? now : this.sequence + 1n;
    if (this.options.mode === 'fixed') return;
    for (const [symbol, price] of this.prices) {
      const bp = Math.round((this.random() * 2 - 1) * this.maxStepBp);
      let delta = (price * BigInt(bp)) / 10_000n;
      if (delta === 0n && bp !== 0) delta = bp > 0 ? 1n : -1n;
      const next = price + delta;
      this.prices.set(symbol, next < 1n ? 1n : next);
    }
  }

  /** Between $5.00 and $500.00, derived from the seed and the symbol alone. */
  private initialPrice(symbol: string): bigint {
    return (
      this.options.initialPrices?.get(symbol) ?? BigInt(500 + (hash32(symbol, this.options.seed) % 49_501))
    );
  }
}
