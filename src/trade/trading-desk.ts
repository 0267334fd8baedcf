import { type ServiceError, status } from '@grpc/grpc-js';
import type { ManagerStatus } from '../client/manager-client.js';
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
import { channelCredentials } from '../tls/transport.js';
import { stateName } from '../ui/status-view.js';
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
const KEPT_MESSAGES = 500;
/** Narrower than an 80-column terminal: a full-width line would wrap on some. */
const MESSAGE_WIDTH = 79;

/** A line cut into pieces of at most `width`, at a space where there is one, the later ones indented. */
function wrap(line: string, width: number): string[] {
  const pieces: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const space = rest.lastIndexOf(' ', width);
    const cut = space > width / 2 ? space : width;
    pieces.push(rest.slice(0, cut));
    rest = `    ${rest.slice(cut).trimStart()}`;
  }
  pieces.push(rest);
  return pieces;
}
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
  /** The user's whole trade history, newest first. */
  private allTrades: Trade__Output[] = [];
  pending: PendingOrder__Output[] = [];
  triggers: TriggerInfo__Output[] = [];
  orders: OrderRecord[] = [];
  messages: Message[] = [];
  /** How many message lines the screen is scrolled up from the newest. */
  scrollBack = 0;
  /** The message rows the screen showed last (a page for PgUp and PgDn). */
  messageRows = 8;
  view: View;
  /** Each replica's state in the manager's table, by id. */
  replicaStates = new Map<string, string>();
  private readonly restarts = new Map<string, number>();
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
    const lines = text.split('\n').flatMap((line) => wrap(line, MESSAGE_WIDTH));
    this.messages = [...this.messages, ...lines.map((t) => ({ text: t, tone }))].slice(-KEPT_MESSAGES);
    this.scrollBack = 0;
    this.changed();
  }

  /** PgUp (+1) and PgDn (-1) through the messages, a page of `rows` at a time. */
  scroll(pages: 1 | -1, rows: number): void {
    this.scrollBack = Math.min(
      Math.max(0, this.messages.length - rows),
      Math.max(0, this.scrollBack + pages * rows),
    );
    this.changed();
  }

  record(order: OrderRecord): void {
    this.orders = [order, ...this.orders].slice(0, KEPT_ORDERS);
    this.changed();
  }

  /**
   * Follows the manager's replica table: a replica's state changing (serving,
   * faulty, starting, backing off) is said, with the fault's cause.
   */
  followReplicas(status: () => Promise<ManagerStatus>, everyMs = 2_000): void {
    const poll = async () => {
      const s = await status();
      for (const r of s.replicas) {
        const state = stateName(r.state);
        const before = this.replicaStates.get(r.id);
        const restartsBefore = this.restarts.get(r.id);
        this.replicaStates.set(r.id, state);
        this.restarts.set(r.id, r.restarts);
        // A restart between two polls may leave the state as it was: the count tells.
        if (restartsBefore !== undefined && r.restarts > restartsBefore) {
          this.say(
            `replica ${r.id} replaced (restart ${r.restarts}): ${r.last_fault || 'no cause given'}`,
            'bad',
          );
        } else if (before !== undefined && before !== state) {
          const cause = r.state === 'REPLICA_STATE_SERVING' || !r.last_fault ? '' : `: ${r.last_fault}`;
          this.say(
            `replica ${r.id} ${before} → ${state}${cause}`,
            r.state === 'REPLICA_STATE_SERVING' ? 'good' : 'bad',
          );
        }
      }
      this.changed();
    };
    this.timers.push(setInterval(() => void poll().catch(() => {}), everyMs));
    void poll().catch(() => {});
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
    // Polling first: a feed that is away at the start still fills the ticker when it comes back.
    this.timers.push(setInterval(() => this.pollQuotes(), quotePollMs));
    this.timers.push(
      setInterval(() => {
        // The periodic read is skipped while one is under way (a slow system is not piled on).
        if (this.session.username && !this.refreshing) void this.refresh().catch(() => {});
      }, accountPollMs),
    );
    this.symbols = await this.listSymbols().catch(() => []);
    await this.watch(watch.length ? watch : this.symbols.slice(0, 4));
  }

  stop(): void {
    this.stopView?.();
    for (const t of this.timers) clearInterval(t);
  }

  /** Adds symbols to the ticker and streams their quotes. */
  async watch(symbols: string[]): Promise<void> {
    const added = symbols.filter((s) => !this.watched.includes(s));
    if (added.length === 0) return;
    // The feed refuses a whole stream that names one symbol it does not quote: each is asked for first.
    const quoted = await Promise.all(
      added.map((s) =>
        this.quotes.get(s).then(
          () => s,
          (err: Partial<ServiceError> & Error) => {
            // A feed that is away now is waited for; a symbol it does not quote is not watched.
            if (err.code !== status.NOT_FOUND && err.code !== status.INVALID_ARGUMENT) return s;
            this.say(`not watching ${s}: ${err.details ?? err.message}`, 'bad');
            return undefined;
          },
        ),
      ),
    );
    const known = quoted.filter((s): s is string => s !== undefined && !this.watched.includes(s));
    if (known.length === 0) return;
    this.watched = [...this.watched, ...known];
    this.changed();
    await this.quotes.follow(known);
    this.pollQuotes();
  }

  unwatch(symbol: string): void {
    this.watched = this.watched.filter((s) => s !== symbol);
    this.changed();
  }

  /** The account, positions and recent trades, read again from the replicas (after any read under way). */
  refresh(): Promise<void> {
    const next = (this.refreshing ?? Promise.resolve()).catch(() => {}).then(() => this.readAccount());
    this.refreshing = next;
    void next
      .finally(() => {
        if (this.refreshing === next) this.refreshing = undefined;
      })
      .catch(() => {});
    return next;
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
    this.allTrades = [];
    this.pending = [];
    this.triggers = [];
    this.changed();
  }

  private async readAccount(): Promise<void> {
    const user = this.session.username;
    const portfolio = (await this.session.portfolio()).response;
    // Trades never change once made: only those newer than the newest known are read.
    const known = this.allTrades[0] ? BigInt(this.allTrades[0].id) : 0n;
    const fresh: Trade__Output[] = [];
    for (let before = '0'; ; ) {
      const page = (
        await this.session.client.call<{ trades: Trade__Output[] }>(
          hedgeProto().Trading.service.ListTrades,
          { limit: PAGE, before_id: before },
          this.session.metadata,
        )
      ).response.trades;
      const newer = page.filter((t) => BigInt(t.id) > known);
      fresh.push(...newer);
      if (page.length < PAGE || newer.length < page.length) break;
      before = String(page[page.length - 1]?.id);
    }
    // A login or logout meanwhile made this someone else's (or no one's) account.
    if (this.session.username !== user) return;
    this.allTrades = [...fresh, ...this.allTrades];
    this.account = portfolio.account ?? undefined;
    this.recentTrades = this.allTrades.slice(0, 10);
    this.positions = positionsFrom([...this.allTrades].reverse(), portfolio.holdings);
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
    const feed = new (hedgeProto().StockFeed)(this.feedAddress, channelCredentials('feed'));
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
