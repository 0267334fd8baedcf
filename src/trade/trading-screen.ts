import { Box, Text } from 'ink';
import { createElement as h, type ReactNode } from 'react';
import { formatCents } from '../common/money.js';
import { cents, valuationOf } from './positions.js';
import type { Tone, TradingDesk } from './trading-desk.js';

/** What the order line shows: the prompt, the text (hidden for a password) and the cursor. */
export interface LineState {
  prompt: string;
  text: string;
  cursor: number;
  secret: boolean;
}

export interface ScreenProps {
  desk: TradingDesk;
  line: LineState;
  /** Colour on: stdout is a terminal and NO_COLOR is not set. */
  colour: boolean;
  confirm: boolean;
  rows: number;
  now: number;
}

type Colour = 'green' | 'red' | 'yellow' | 'cyan' | 'gray';

const signed = (c: bigint) => (c > 0n ? `+${formatCents(c)}` : formatCents(c));
const trendOf = (c: bigint | undefined): Colour | undefined =>
  c === undefined || c === 0n ? undefined : c > 0n ? 'green' : 'red';
const TONE: Record<Tone, Colour | undefined> = { info: undefined, good: 'green', bad: 'red' };
const age = (ms: number) => (ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`);
const cols = (cells: [string, number][]) =>
  cells.map(([t, w]) => (w < 0 ? t.padEnd(-w) : t.padStart(w))).join(' ');

/**
 * The full-screen client, top to bottom: the replication (mode, view, serving
 * replicas), the ticker, positions at live prices, cash, recent trades beside
 * pending orders and triggers, the orders sent with how each replicated call
 * went, the client's messages, and the order line.
 */
export function TradingScreen({ desk, line, colour, confirm, rows, now }: ScreenProps): ReactNode {
  const paint = (text: string, c?: Colour, bold = false) =>
    h(Text, { ...(colour && c ? { color: c } : {}), bold }, text);
  const heading = (text: string) => paint(text, 'cyan', true);
  const { session, view } = desk;

  const unwell = [...desk.replicaStates].filter(([, state]) => state !== 'serving');
  const who = ` hedge · ${session.username ?? 'not logged in'} `;
  const replication = ` ${session.client.options.mode} · view ${view.number}: ${view.members.map((m) => m.id).join(' ') || 'none'} (${view.members.length} serving) · confirm ${confirm ? 'on' : 'off'}`;
  // The manager's replicas that are not serving, and how they stand, while they are not.
  const trouble = unwell.map(([id, state]) => ` · ${id} ${state}`).join('');
  const headerLength = who.length + replication.length + trouble.length;
  // One text, nested: it wraps as a line of words, not as columns.
  const header = h(
    Text,
    null,
    h(Text, { inverse: true, bold: true }, who),
    replication,
    trouble ? h(Text, colour ? { color: 'yellow' } : {}, trouble) : '',
  );

  const ticks = desk.watched.map((symbol) => {
    const t = desk.ticks.get(symbol);
    if (!t) return h(Text, { key: symbol }, `${symbol.padEnd(5)} …`.padEnd(20));
    const change = t.priceCents - t.openCents;
    return h(
      Box,
      { key: symbol, marginRight: 2 },
      paint(`${symbol} `, undefined, true),
      paint(`${formatCents(t.priceCents)} `),
      paint(`${signed(change)} `, trendOf(change)),
      paint(age(now - t.issuedAtMs), now > t.expiresAtMs ? 'red' : 'gray'),
    );
  });
  const ticker = h(Box, { flexWrap: 'wrap' }, paint('TICKER ', 'cyan', true), ...ticks);

  const positions = desk.positions.filter((p) => p.shares > 0n || p.realisedCents !== 0n).slice(0, 4);
  let holdingsValue = 0n;
  const positionRows = positions.map((p) => {
    const v = valuationOf(p, desk.ticks.get(p.symbol)?.priceCents);
    holdingsValue += v.valueCents ?? 0n;
    return h(
      Box,
      { key: p.symbol },
      paint(
        cols([
          [p.symbol, -9],
          [String(p.shares), 7],
          [v.averageCents === undefined ? '-' : formatCents(v.averageCents), 10],
          [v.valueCents === undefined ? '-' : formatCents(v.valueCents), 12],
        ]),
      ),
      paint(
        ` ${(v.unrealisedCents === undefined ? '-' : signed(v.unrealisedCents)).padStart(12)}`,
        trendOf(v.unrealisedCents),
      ),
      paint(` ${signed(p.realisedCents).padStart(11)}`, trendOf(p.realisedCents)),
    );
  });
  const account = desk.account;
  const cash = account ? cents(account.cash) : undefined;
  const money = h(
    Text,
    null,
    account
      ? `cash ${account.cash}  reserved ${account.reserved_cash}  holdings ${formatCents(holdingsValue)}  total ${formatCents((cash ?? 0n) + cents(account.reserved_cash) + holdingsValue)}`
      : 'no account shown: register <user> or login <user>',
  );

  const trades = desk.recentTrades.slice(0, 3).map((t) =>
    h(
      Text,
      { key: String(t.id) },
      cols([
        [t.side === 'SIDE_BUY' ? 'buy' : 'sell', -4],
        [String(t.shares), 6],
        [t.symbol, -5],
        [`@${t.price}`, -10],
        [t.replica_id, -8],
      ]).padEnd(38),
    ),
  );
  const waiting = [
    // The server lets an uncommitted order go after its window; so does the screen.
    ...desk.pending
      .filter((o) => Number(o.expires_at_ms) > now)
      .map((o) => {
        const left = Math.max(0, Math.ceil((Number(o.expires_at_ms) - now) / 1000));
        return paint(
          `${o.side} ${o.symbol} $${o.amount} → ${o.shares} @${o.price} ${left}s left`,
          left <= 10 ? 'yellow' : undefined,
        );
      }),
    ...desk.triggers.map((t) =>
      paint(
        `trigger ${t.side} ${t.symbol} $${t.amount}${t.trigger_price ? ` at ${t.trigger_price}` : ''} (${t.state})`,
      ),
    ),
  ].slice(0, 3);
  const lower = h(
    Box,
    null,
    h(
      Box,
      { flexDirection: 'column', width: 40 },
      heading('RECENT TRADES'),
      ...(trades.length ? trades : [h(Text, { key: 'no-trades' }, 'none')]),
    ),
    h(
      Box,
      { flexDirection: 'column' },
      heading('PENDING (60 s) AND TRIGGERS'),
      ...(waiting.length ? waiting : [h(Text, { key: 'no-pending' }, 'none')]),
    ),
  );

  const orders = desk.orders.slice(0, 3).map((o, i) => {
    const t = o.telemetry;
    const failovers = t ? t.failures.length : 0;
    return h(
      Box,
      { key: `${i}` },
      paint(`${o.what.slice(0, 22).padEnd(22)} `),
      paint(`${(o.ok ? 'ok' : o.outcome).slice(0, 16).padEnd(16)} `, o.ok ? 'green' : 'red'),
      paint(
        t
          ? cols([
              [t.answeredBy ?? '-', -7],
              [String(t.attempts), 6],
              [String(failovers), 9],
              [`${t.latencyMs.toFixed(1)}ms`, 9],
              [t.view, 4],
            ])
          : '',
        failovers ? 'yellow' : undefined,
      ),
    );
  });

  // What is left of the screen goes to the messages, newest at the bottom.
  const used =
    7 +
    Math.ceil(headerLength / 80) +
    Math.ceil(ticks.length / 4) +
    Math.max(1, positionRows.length) +
    Math.max(1, trades.length, waiting.length) +
    Math.max(1, orders.length);
  // One row short of the screen: ink redraws in place only while the frame fits.
  const area = Math.max(1, rows - used - 1);
  desk.messageRows = area;
  const end = desk.messages.length - desk.scrollBack;
  const messages = desk.messages.slice(Math.max(0, end - area), end);
  const above = Math.max(0, end - area);
  const rule = `── messages ${above || desk.scrollBack ? `(${above} above, ${desk.scrollBack} below: PgUp/PgDn) ` : ''}`;
  const shown = line.secret ? '' : line.text;
  const cursorAt = line.secret ? 0 : line.cursor;

  return h(
    Box,
    { flexDirection: 'column' },
    header,
    ticker,
    heading(
      cols([
        ['POSITIONS', -9],
        ['shares', 7],
        ['avg cost', 10],
        ['value', 12],
        ['unrealised', 12],
        ['realised', 11],
      ]),
    ),
    ...(positionRows.length ? positionRows : [h(Text, { key: 'no-positions' }, 'none')]),
    money,
    lower,
    heading(
      cols([
        ['ORDERS', -22],
        ['result', -16],
        ['replica', -7],
        ['copies', 6],
        ['failovers', 9],
        ['latency', 9],
        ['view', 4],
      ]),
    ),
    ...(orders.length ? orders : [h(Text, { key: 'no-orders' }, 'none yet')]),
    paint(rule.padEnd(78, '─'), 'gray'),
    ...messages.map((m, i) => h(Box, { key: `m${end - messages.length + i}` }, paint(m.text, TONE[m.tone]))),
    h(
      Box,
      null,
      paint(line.prompt, 'cyan', true),
      h(Text, null, shown.slice(0, cursorAt)),
      h(Text, { inverse: true }, shown[cursorAt] ?? ' '),
      h(Text, null, shown.slice(cursorAt + 1)),
    ),
  );
}
