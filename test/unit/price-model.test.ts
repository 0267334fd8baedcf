import { describe, expect, it } from 'vitest';
import { PriceModel } from '../../src/stock-feed/price-model.js';

const symbols = ['ABC', 'DEF', 'GHI'];

function walk(seed: number, ticks: number): bigint[][] {
  const model = new PriceModel({ symbols, seed, mode: 'walk' });
  const history: bigint[][] = [];
  for (let i = 0; i < ticks; i++) {
    model.tick();
    history.push(symbols.map((s) => model.price(s) ?? -1n));
  }
  return history;
}

describe('PriceModel', () => {
  it('repeats the same walk for the same seed and another for another seed', () => {
    expect(walk(42, 200)).toEqual(walk(42, 200));
    expect(walk(42, 200)).not.toEqual(walk(43, 200));
  });

  it('moves prices in whole cents and never below one cent', () => {
    const model = new PriceModel({
      symbols: ['X'],
      seed: 1,
      mode: 'walk',
      maxStepBp: 5_000,
      initialPrices: new Map([['X', 3n]]),
    });
    const seen = new Set<bigint>();
    for (let i = 0; i < 2_000; i++) {
      model.tick();
      const p = model.price('X') ?? 0n;
      expect(p).toBeGreaterThanOrEqual(1n);
      seen.add(p);
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('never moves in fixed mode, while the sequence advances', () => {
    const model = new PriceModel({
      symbols,
      seed: 1,
      mode: 'fixed',
      initialPrices: new Map([['ABC', 1234n]]),
    });
    const before = symbols.map((s) => model.price(s));
    for (let i = 0; i < 50; i++) model.tick();
    expect(symbols.map((s) => model.price(s))).toEqual(before);
    expect(model.price('ABC')).toBe(1234n);
  });

  it('numbers a tick by its start in ms since the epoch, and ever higher when ticks come faster', async () => {
    const model = new PriceModel({ symbols, seed: 1, mode: 'fixed' });
    const sequences = [model.sequence];
    for (let i = 0; i < 50; i++) {
      model.tick();
      sequences.push(model.sequence);
    }
    for (let i = 1; i < sequences.length; i++) expect(sequences[i]).toBeGreaterThan(sequences[i - 1] ?? 0n);
    // Once the clock has passed the last tick, a tick takes the clock's reading.
    await new Promise((r) => setTimeout(r, 60));
    const before = BigInt(Date.now());
    model.tick();
    expect(model.sequence).toBeGreaterThanOrEqual(before);
    expect(model.sequence).toBeLessThanOrEqual(BigInt(Date.now()));
  });

  it('quotes only its symbols, or any well-formed one when asked to', () => {
    expect(new PriceModel({ symbols, seed: 1, mode: 'walk' }).price('ZZZ')).toBeUndefined();
    const any = new PriceModel({ symbols, seed: 1, mode: 'walk', anySymbol: true });
    expect(any.price('ZZZ')).toBeGreaterThanOrEqual(500n);
    expect(any.price('zz')).toBeUndefined();
    expect(any.symbols()).toContain('ZZZ');
  });
});
