import { credentials } from '@grpc/grpc-js';
import type { View } from '../client/membership-watcher.js';
import type { QuoteSource } from '../client/quote-source.js';
import type { CallTelemetry } from '../client/replicated-client.js';
import type { TradingSession } from '../client/trading-session.js';
import { hedgeProto } from '../common/proto.js';
import { deadlineAfter, invoke } from '../common/rpc.js';
import type { Account__Output } from '../gen/hedge/v1/Account.js';
import type { ListSymbolsResponse__Output } from '../gen/hedge/v1/ListSymbolsResponse.js';
import type { PendingOrder__Output } from '../gen/hedge/v1/PendingOrder.js';
import type { Summary__Output } from '../gen/hedge/v1/Summary.js';
import type { Trade__Output } from '../gen/hedge/v1/Trade.js';
import type { TriggerInfo__Output } from '../gen/hedge/v1/TriggerInfo.js';
import { cents, type Position, positionsFrom } from './positions.js';

/** One watched symbol's latest quote, and the first price this session saw. */
export interface Tick {
  symbol: string;
  priceCents: bigint;
  openCents: bigint;
  issuedAtMs: number;
  expiresAtMs: number;
}

/** One command that went to the replicas, and how the replicated call went. */
export interface OrderRecord {
  what: string;
  ok: boolean;
  /** The answer, or why it failed. */
  outcome: string;
  telemetry?: CallTelemetry;
}

export type Tone = 'info' | 'good' | 'bad';

export interface Message {
  text: string;
  tone: Tone;
}

/** ListTrades' page size at its largest (the server's maximum). */
const PAGE = 1000;
const KEPT_MESSAGES = 50;
const KEPT_ORDERS = 20;

/**
 * What the full-screen client shows, kept current: live quotes of the watched
 * symbols, the account and positions (from GetPortfolio and the whole trade
 * history), pending day-trading orders and triggers, the view, the orders sent
 * and what the client said. Everything that changes calls the listeners.
 */
export class TradingDesk {
  ticks = new Map<string, Tick>();
  watched: string[] = [];
  /** The symbols the feed quotes (for completion). */
  symbols: string[] = [];
  account: Account__Output | undefined;
  positions: Position[] = [];
  /** Newest first. */
  recentTrades: Trade__Output[] = [];
  pending: PendingOrder__Output[] = [];
  triggers: TriggerInfo__Output[] = [];
  orders: OrderRecord[] = [];
  messages: Message[] = [];
  view: View;
  private readonly listeners = new Set<() => void>();
  private readonly timers: NodeJS.Timeout[] = [];
  private refreshing: Promise<void> | undefined;
  private stopView: (() => void) | undefined;

  constructor(
    readonly session: TradingSession,
    readonly quotes: QuoteSource,
    private readonly feedAddress: string,
  ) {
    this.view = session.client.currentView;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(): void {
    for (const l of this.listeners) l();
  }

  say(text: string, tone: Tone = 'info'): void {
    this.messages = [...this.messages, ...text.split('\n').map((t) => ({ text: t, tone }))].slice(
      -KEPT_MESSAGES,
    );
    this.changed();
  }

  record(order: OrderRecord): void {
    this.orders = [order, ...this.orders].slice(0, KEPT_ORDERS);
    this.changed();
  }

  /** Starts following the view, the watched symbols' quotes and (once logged in) the account. */
  async start(watch: string[], quotePollMs = 250, accountPollMs = 5_000): Promise<void> {
    this.stopView?.();
    const stop = this.session.client.onViewChange((view) => {
      const before = new Set(this.view.members.map((m) => m.id));
      const after = new Set(view.members.map((m) => m.id));
      const left = [...before].filter((id) => !after.has(id));
      const joined = [...after].filter((id) => !before.has(id));
      this.view = view;
      const change = [...left.map((id) => `${id} left`), ...joined.map((id) => `${id} joined`)].join(', ');
      this.say(
        `view ${view.number}: ${view.members.map((m) => m.id).join(' ') || 'no replicas'}${change ? ` (${change})` : ''}`,
      );
    });
    this.stopView = stop;
    this.symbols = await this.listSymbols().catch(() => []);
    await this.watch(watch.length ? watch : this.symbols.slice(0, 4));
    this.timers.push(setInterval(() => this.pollQuotes(), quotePollMs));
    this.timers.push(
      setInterval(() => {
        if (this.session.username) void this.refresh().catch(() => {});
      }, accountPollMs),
    );
  }

  stop(): void {
    this.stopView?.();
    for (const t of this.timers) clearInterval(t);
  }

  /** Adds symbols to the ticker and streams their quotes. */
  async watch(symbols: string[]): Promise<void> {
    const added = symbols.filter((s) => !this.watched.includes(s));
    if (added.length === 0) return;
    this.watched = [...this.watched, ...added];
    this.changed();
    await this.quotes.follow(added);
    this.pollQuotes();
  }

  unwatch(symbol: string): void {
    this.watched = this.watched.filter((s) => s !== symbol);
    this.changed();
  }

  /** The account, positions and recent trades, read again from the replicas (one refresh at a time). */
  refresh(): Promise<void> {
    this.refreshing ??= this.readAccount().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** What DISPLAY_SUMMARY answered: the pending orders and triggers, and the account. */
  takeSummary(summary: Summary__Output): void {
    this.pending = summary.pending_orders;
    this.triggers = summary.triggers;
    if (summary.account) this.account = summary.account;
    this.changed();
  }

  /** Forgets what belongs to the session's user (after a logout or a new login). */
  clearAccount(): void {
    this.account = undefined;
    this.positions = [];
    this.recentTrades = [];
    this.pending = [];
    this.triggers = [];
    this.changed();
  }

  private async readAccount(): Promise<void> {
    const portfolio = (await this.session.portfolio()).response;
    const trades: Trade__Output[] = [];
    for (let before = '0'; ; ) {
      const page = (
        await this.session.client.call<{ trades: Trade__Output[] }>(
          hedgeProto().Trading.service.ListTrades,
          { limit: PAGE, before_id: before },
          this.session.metadata,
        )
      ).response.trades;
      trades.push(...page);
      if (page.length < PAGE) break;
      before = String(page[page.length - 1]?.id);
    }
    this.account = portfolio.account ?? undefined;
    this.recentTrades = trades.slice(0, 10);
    this.positions = positionsFrom([...trades].reverse(), portfolio.holdings);
    // Held symbols are watched: their value needs a live price.
    void this.watch(this.positions.filter((p) => p.shares > 0n).map((p) => p.symbol)).catch(() => {});
    this.changed();
  }

  private pollQuotes(): void {
    for (const symbol of this.watched) {
      this.quotes.get(symbol).then(
        (q) => {
          const known = this.ticks.get(symbol);
          const priceCents = cents(q.price);
          if (known && known.issuedAtMs === Number(q.issued_at_ms) && known.priceCents === priceCents) return;
          this.ticks.set(symbol, {
            symbol,
            priceCents,
            openCents: known?.openCents ?? priceCents,
            issuedAtMs: Number(q.issued_at_ms),
            expiresAtMs: Number(q.expires_at_ms),
          });
          this.changed();
        },
        () => {
          // No quote now: the ticker shows the last one ageing.
        },
      );
    }
  }

  private async listSymbols(): Promise<string[]> {
    const feed = new (hedgeProto().StockFeed)(this.feedAddress, credentials.createInsecure());
    try {
      return (
        await invoke<ListSymbolsResponse__Output>((cb) =>
          feed.ListSymbols({}, { deadline: deadlineAfter(3_000) }, cb),
        )
      ).symbols;
    } finally {
      feed.close();
    }
  }
}
