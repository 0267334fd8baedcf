/**
 * SEng 468 semantics as ../shared/seng468/SPEC.md states them, for one user and
 * one symbol at one fixed price, written independently of the SQL: what each
 * command must produce in the audit log. The replay's log is checked against it.
 */
export interface Expected {
  command: string;
  refused: boolean;
  /** accountTransaction entries, in order: "add 12.34" / "remove 5.00". */
  accounts: string[];
  quotes: number;
}

type Order = { shares: bigint; price: bigint };

const cents = (dollars: string): bigint => {
  const [whole = '0', fraction = ''] = dollars.split('.');
  return BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0'));
};
const money = (c: bigint) => `${c / 100n}.${(c % 100n).toString().padStart(2, '0')}`;

export class SpecModel {
  opened = false;
  cash = 0n;
  reserved = 0n;
  shares = 0n;
  reservedShares = 0n;
  private buys: Order[] = [];
  private sells: Order[] = [];
  private buyTrigger: { amount: bigint } | undefined;
  private sellTrigger: { amount: bigint; reserved: bigint; price?: bigint } | undefined;

  constructor(private readonly price: bigint) {}

  apply(command: string, args: string[]): Expected {
    const ok = (accounts: string[] = [], quotes = 0): Expected => ({
      command,
      refused: false,
      accounts,
      quotes,
    });
    const no = (quotes = 0): Expected => ({ command, refused: true, accounts: [], quotes });
    const [, symbolOrAmount = '', amountOrPrice = ''] = args;
    switch (command) {
      case 'ADD': {
        const amount = cents(symbolOrAmount);
        if (amount <= 0n) return no();
        this.opened = true;
        this.cash += amount;
        return ok([`add ${money(amount)}`]);
      }
      case 'QUOTE':
        return ok([], 1);
      case 'BUY':
      case 'SELL': {
        if (!this.opened) return no(1);
        const n = cents(amountOrPrice) / this.price;
        if (n < 1n) return no(1);
        const total = n * this.price;
        if (command === 'BUY') {
          if (this.cash < total) return no(1);
          this.cash -= total;
          this.reserved += total;
          this.buys.push({ shares: n, price: this.price });
          return ok([`remove ${money(total)}`], 1);
        }
        if (this.shares < n) return no(1);
        this.shares -= n;
        this.reservedShares += n;
        this.sells.push({ shares: n, price: this.price });
        return ok([], 1);
      }
      case 'COMMIT_BUY':
      case 'CANCEL_BUY':
      case 'COMMIT_SELL':
      case 'CANCEL_SELL': {
        const buy = command.endsWith('BUY');
        const order = (buy ? this.buys : this.sells).pop();
        if (!this.opened || !order) return no();
        const total = order.shares * order.price;
        if (command === 'COMMIT_BUY') {
          this.reserved -= total;
          this.shares += order.shares;
          return ok();
        }
        if (command === 'CANCEL_BUY') {
          this.reserved -= total;
          this.cash += total;
          return ok([`add ${money(total)}`]);
        }
        this.reservedShares -= order.shares;
        if (command === 'COMMIT_SELL') {
          this.cash += total;
          return ok([`add ${money(total)}`]);
        }
        this.shares += order.shares;
        return ok();
      }
      case 'SET_BUY_AMOUNT': {
        if (!this.opened) return no();
        const amount = cents(amountOrPrice);
        const delta = amount - (this.buyTrigger?.amount ?? 0n);
        if (this.cash < delta) return no();
        this.cash -= delta;
        this.reserved += delta;
        this.buyTrigger = { amount };
        if (delta === 0n) return ok();
        return ok([delta > 0n ? `remove ${money(delta)}` : `add ${money(-delta)}`]);
      }
      case 'SET_BUY_TRIGGER':
        return this.opened && this.buyTrigger ? ok() : no();
      case 'CANCEL_SET_BUY': {
        if (!this.opened || !this.buyTrigger) return no();
        const { amount } = this.buyTrigger;
        this.cash += amount;
        this.reserved -= amount;
        this.buyTrigger = undefined;
        return ok([`add ${money(amount)}`]);
      }
      case 'SET_SELL_AMOUNT': {
        if (!this.opened) return no();
        const amount = cents(amountOrPrice);
        const trigger = this.sellTrigger;
        if (trigger?.price !== undefined && !this.reserveForSale(trigger, amount / trigger.price))
          return no();
        this.sellTrigger = { ...(trigger ?? { reserved: 0n }), amount };
        return ok();
      }
      case 'SET_SELL_TRIGGER': {
        const trigger = this.sellTrigger;
        if (!this.opened || !trigger) return no();
        const price = cents(amountOrPrice);
        if (!this.reserveForSale(trigger, trigger.amount / price)) return no();
        trigger.price = price;
        return ok();
      }
      case 'CANCEL_SET_SELL': {
        if (!this.opened || !this.sellTrigger) return no();
        this.shares += this.sellTrigger.reserved;
        this.reservedShares -= this.sellTrigger.reserved;
        this.sellTrigger = undefined;
        return ok();
      }
      case 'DISPLAY_SUMMARY':
        return this.opened ? ok() : no();
      case 'DUMPLOG':
        return ok();
    }
    throw new Error(`the model does not know ${command}`);
  }

  /** Moves a sell trigger's reservation to `wanted` shares, if they are there. */
  private reserveForSale(trigger: { reserved: bigint }, wanted: bigint): boolean {
    if (wanted < 1n || this.shares + trigger.reserved < wanted) return false;
    this.shares += trigger.reserved - wanted;
    this.reservedShares += wanted - trigger.reserved;
    trigger.reserved = wanted;
    return true;
  }
}
