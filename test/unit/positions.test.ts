import { describe, expect, it } from 'vitest';
import type { Trade__Output } from '../../src/gen/hedge/v1/Trade.js';
import { cents, positionsFrom, valuationOf } from '../../src/trade/positions.js';

let id = 0;
const trade = (
  side: 'SIDE_BUY' | 'SIDE_SELL',
  symbol: string,
  shares: number,
  price: string,
): Trade__Output => {
  id += 1;
  const total = cents(price) * BigInt(shares);
  return {
    id: String(id),
    request_id: `r${id}`,
    symbol,
    side,
    shares: String(shares),
    price,
    total: `${total / 100n}.${String(total % 100n).padStart(2, '0')}`,
    executed_at_ms: String(id),
    replica_id: 'r1',
  };
};
const holding = (symbol: string, shares: number, reserved = 0) => ({
  symbol,
  shares: String(shares),
  reserved_shares: String(reserved),
});

describe('positions from the trade history', () => {
  it('averages the cost of buys; a sale realises its proceeds less the average cost and leaves the average', () => {
    const [p] = positionsFrom(
      [
        trade('SIDE_BUY', 'ABC', 10, '10.00'),
        trade('SIDE_BUY', 'ABC', 10, '12.00'),
        trade('SIDE_SELL', 'ABC', 5, '15.00'),
      ],
      [holding('ABC', 15)],
    );
    expect(p).toEqual({
      symbol: 'ABC',
      shares: 15n,
      reservedShares: 0n,
      costCents: 16_500n,
      realisedCents: 2_000n,
    });
    // At 13.00 a share: 195.00 worth, 30.00 over its cost; the average stays 11.00.
    expect(valuationOf(p as NonNullable<typeof p>, 1_300n)).toEqual({
      averageCents: 1_100n,
      valueCents: 19_500n,
      unrealisedCents: 3_000n,
    });
  });

  it('counts reserved shares as held, keeps a sold-out symbol for its realised P&L, and values nothing without a price', () => {
    const positions = positionsFrom(
      [
        trade('SIDE_BUY', 'ABC', 4, '5.00'),
        trade('SIDE_BUY', 'DEF', 2, '50.00'),
        trade('SIDE_SELL', 'DEF', 2, '40.00'),
      ],
      [holding('ABC', 1, 3)],
    );
    expect(
      positions.map((p) => [p.symbol, p.shares, p.reservedShares, p.costCents, p.realisedCents]),
    ).toEqual([
      ['ABC', 4n, 3n, 2_000n, 0n],
      ['DEF', 0n, 0n, 0n, -2_000n],
    ]);
    expect(valuationOf(positions[0] as NonNullable<(typeof positions)[0]>, undefined)).toEqual({
      averageCents: 500n,
      valueCents: undefined,
      unrealisedCents: undefined,
    });
  });

  it("reads the wire's dollar strings as cents, signs and all", () => {
    expect([cents('12.34'), cents('0.5'), cents('7'), cents('-0.05')]).toEqual([1_234n, 50n, 700n, -5n]);
  });
});
