import { describe, expect, it } from 'vitest';
import { PriceModel, WALK_WINDOW } from '../../src/stock-feed/price-model.js';

const symbols = ['ABC', 'DEF', 'GHI'];
const TICK_MS = 1_000;
/** Some tick in 2026. */
const START = 1_780_000_000n;

function walk(model: PriceModel, from: bigint, ticks: number): bigint[][] {
  const history: bigint[][] = [];
  for (let i = 0n; i < BigInt(ticks); i++)
    history.push(symbols.map((s) => model.priceAt(s, from + i) ?? -1n));
  return history;
}

const walkModel = (seed: number) => new PriceModel({ symbols, seed, mode: 'walk', tickMs: TICK_MS });

/** A walk of one symbol, X, from `base` cents. */
const walkOfX = (seed: number, base: bigint, maxStepBp?: number) =>
  new PriceModel({
    symbols: ['X'],
    seed,
    mode: 'walk',
    tickMs: TICK_MS,
    maxStepBp,
    initialPrices: new Map([['X', base]]),
  });

describe('PriceModel', () => {
  it('repeats the same walk for the same seed and another for another seed', () => {
    expect(walk(walkModel(42), START, 200)).toEqual(walk(walkModel(42), START, 200));
    expect(walk(walkModel(42), START, 200)).not.toEqual(walk(walkModel(43), START, 200));
  });

  it('gives a tick the same price whether reached tick by tick, by a jump, or by a fresh model', () => {
    const stepped = walkModel(5);
    for (let i = 0n; i < BigInt(WALK_WINDOW) * 3n; i++) stepped.priceAt('ABC', START + i);
    const target = START + BigInt(WALK_WINDOW) * 3n;
    const byStep = stepped.priceAt('ABC', target);
    const jumped = walkModel(5);
    jumped.priceAt('ABC', START);
    expect(jumped.priceAt('ABC', target)).toBe(byStep);
    expect(walkModel(5).priceAt('ABC', target)).toBe(byStep);
    // Going back in time is computed afresh, not from the newer sum.
    expect(stepped.priceAt('ABC', START + 7n)).toBe(walkModel(5).priceAt('ABC', START + 7n));
  });

  it('moves like a walk from tick to tick and stays within ±50 % of its base price', () => {
    const model = walkOfX(9, 10_000n);
    const seen = new Set<bigint>();
    let previous = model.priceAt('X', START) ?? 0n;
    for (let i = 1n; i < 20_000n; i++) {
      const p = model.priceAt('X', START + i) ?? 0n;
      expect(p).toBeGreaterThanOrEqual(5_000n);
      expect(p).toBeLessThanOrEqual(15_000n);
      // One step added and one dropped, each at most 50 bp of the base price.
      const move = p > previous ? p - previous : previous - p;
      expect(move).toBeLessThanOrEqual(100n);
      previous = p;
      seen.add(p);
    }
    expect(seen.size).toBeGreaterThan(100);
  });

  it('moves prices in whole cents and never below one cent', () => {
    const model = walkOfX(1, 3n, 5_000);
    const seen = new Set<bigint>();
    for (let i = 0n; i < 2_000n; i++) {
      const p = model.priceAt('X', START + i) ?? 0n;
      expect(p).toBeGreaterThanOrEqual(1n);
      seen.add(p);
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('never moves in fixed mode', () => {
    const model = new PriceModel({
      symbols,
      seed: 1,
      mode: 'fixed',
      tickMs: TICK_MS,
      initialPrices: new Map([['ABC', 1234n]]),
    });
    const before = symbols.map((s) => model.priceAt(s, START));
    expect(symbols.map((s) => model.priceAt(s, START + 50n))).toEqual(before);
    expect(model.price('ABC')).toBe(1234n);
  });

  it('numbers a tick by its index since the epoch, and never goes back should the clock', () => {
    let now = 1_780_000_000_500;
    const model = new PriceModel({ symbols, seed: 1, mode: 'walk', tickMs: 250 }, () => now);
    expect(model.sequence).toBe(BigInt(Math.floor(now / 250)));
    expect(model.tickStartMs(model.sequence)).toBe(1_780_000_000_500n);
    now += 249;
    expect(model.sequence).toBe(7_120_000_002n);
    now += 1;
    expect(model.sequence).toBe(7_120_000_003n);
    expect(model.price('ABC')).toBe(model.priceAt('ABC', 7_120_000_003n));
    now -= 10_000;
    expect(model.sequence).toBe(7_120_000_003n);
  });

  it('quotes only its symbols, or any well-formed one when asked to', () => {
    expect(walkModel(1).price('ZZZ')).toBeUndefined();
    const any = new PriceModel({ symbols, seed: 1, mode: 'walk', tickMs: TICK_MS, anySymbol: true });
    expect(any.price('ZZZ')).toBeGreaterThanOrEqual(250n);
    expect(any.price('zz')).toBeUndefined();
    expect(any.symbols()).toContain('ZZZ');
  });
});
