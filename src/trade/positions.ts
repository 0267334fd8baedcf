import type { Holding__Output } from '../gen/hedge/v1/Holding.js';
import type { Trade__Output } from '../gen/hedge/v1/Trade.js';

/** One symbol the user holds or has traded, in cents and shares. */
export interface Position {
  symbol: string;
  /** Shares owned, including those reserved for pending sells and sell triggers. */
  shares: bigint;
  reservedShares: bigint;
  /** What the shares still held cost, by the average-cost method. */
  costCents: bigint;
  /** Proceeds of sales minus the average cost of the shares sold. */
  realisedCents: bigint;
}

export interface Valuation {
  averageCents: bigint | undefined;
  valueCents: bigint | undefined;
  unrealisedCents: bigint | undefined;
}

/**
 * Positions from the user's whole trade history (oldest first) and the server's
 * holdings. Cost is averaged: a sale takes the average cost of the shares it
 * sells, so what is left keeps its average. The share count is the server's
 * (holdings), which also covers shares the history cannot explain.
 */
export function positionsFrom(trades: Trade__Output[], holdings: Holding__Output[]): Position[] {
  const bySymbol = new Map<string, { shares: bigint; cost: bigint; realised: bigint }>();
  for (const t of trades) {
    const p = bySymbol.get(t.symbol) ?? { shares: 0n, cost: 0n, realised: 0n };
    const shares = BigInt(t.shares);
    const total = cents(t.total);
    if (t.side === 'SIDE_BUY') {
      p.shares += shares;
      p.cost += total;
    } else if (p.shares > 0n) {
      const sold = shares > p.shares ? p.shares : shares;
      const costOfSold = (p.cost * sold) / p.shares;
      p.realised += total - costOfSold;
      p.cost -= costOfSold;
      p.shares -= sold;
    }
    bySymbol.set(t.symbol, p);
  }
  const held = new Map(holdings.map((h) => [h.symbol, h]));
  const symbols = [...new Set([...held.keys(), ...bySymbol.keys()])].sort();
  return symbols.map((symbol) => {
    const h = held.get(symbol);
    const p = bySymbol.get(symbol) ?? { shares: 0n, cost: 0n, realised: 0n };
    const shares = h ? BigInt(h.shares) + BigInt(h.reserved_shares) : 0n;
    return {
      symbol,
      shares,
      reservedShares: h ? BigInt(h.reserved_shares) : 0n,
      // Held shares the history does not explain (none, normally) carry no cost.
      costCents:
        shares === 0n
          ? 0n
          : p.shares > 0n
            ? (p.cost * (shares < p.shares ? shares : p.shares)) / p.shares
            : 0n,
      realisedCents: p.realised,
    };
  });
}

/** The position at a live price (cents), or without one. */
export function valuationOf(p: Position, priceCents: bigint | undefined): Valuation {
  const averageCents = p.shares > 0n ? p.costCents / p.shares : undefined;
  if (priceCents === undefined) return { averageCents, valueCents: undefined, unrealisedCents: undefined };
  const valueCents = priceCents * p.shares;
  return { averageCents, valueCents, unrealisedCents: valueCents - p.costCents };
}

/** A wire dollar string ("12.34", "-0.50") the server wrote, in cents. */
export function cents(dollars: string): bigint {
  const negative = dollars.startsWith('-');
  const [whole = '0', fraction = ''] = (negative ? dollars.slice(1) : dollars).split('.');
  const value = BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0').slice(0, 2));
  return negative ? -value : value;
}
