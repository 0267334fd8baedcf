import { createInterface } from 'node:readline';
import { status } from '@grpc/grpc-js';
import type { ManagerStatus } from './manager-client.js';
import type { QuoteSource } from './quote-source.js';
import { type CallResult, type CallTelemetry, ReplicatedCallError } from './replicated-client.js';
import { formatReplicaTable, formatSummary } from './status-view.js';
import { textTable } from './text-table.js';
import type { TradingSession } from './trading-session.js';

export interface TerminalDeps {
  session: TradingSession;
  quotes: QuoteSource;
  status: () => Promise<ManagerStatus>;
  out: NodeJS.WritableStream;
}

const HELP = `commands:
  register <user> <password>   create an account
  login <user> <password>      start a session
  logout
  deposit <dollars>            e.g. deposit 1000.50
  quote <SYMBOL>               the feed's current signed quote
  buy <SYMBOL> <shares>        at the current quote
  sell <SYMBOL> <shares>       at the current quote
  portfolio                    cash, reserved cash and holdings
  trades [n]                   your latest trades
  view                         the replicas the client is using
  status                       the manager's replica table
  help, quit`;

function telemetryLine(t: CallTelemetry): string {
  const failed = t.failures.length
    ? `, failed: ${t.failures.map((f) => `${f.replica} ${status[f.code]}`).join(', ')}`
    : '';
  return `  [${t.mode} · answered by ${t.answeredBy ?? '-'} in ${t.latencyMs.toFixed(1)} ms · ${t.attempts} attempt(s) · view ${t.view}${failed}]`;
}

/**
 * The terminal trading client: one command per line (interactive, or a script
 * on stdin), each answered with the result and how the replicated call went.
 */
export async function runTerminal(
  deps: TerminalDeps,
  input: NodeJS.ReadableStream,
  interactive: boolean,
): Promise<void> {
  const { session, quotes, out } = deps;
  const say = (line: string): void => {
    out.write(`${line}\n`);
  };
  const show = <T>(result: CallResult<T>, render: (r: T) => string) => {
    say(render(result.response));
    say(telemetryLine(result.telemetry));
  };
  /** A buy or sell at the latest quote the source holds. */
  const trade = async (side: 'buy' | 'sell', done: string, [symbol = '', shares = '']: string[]) => {
    const upper = symbol.toUpperCase();
    const quote = await quotes.get(upper);
    show(
      await session[side](upper, shares, quote),
      (r) =>
        `${done} ${r.trade?.shares} ${r.trade?.symbol} at ${r.trade?.price} = ${r.trade?.total}; cash ${r.account?.cash}`,
    );
  };

  const commands: Record<string, (args: string[]) => Promise<void>> = {
    help: async () => say(HELP),
    register: async ([user = '', password = '']) =>
      show(
        await session.register(user, password),
        (r) => `registered ${r.username} (user ${r.user_id}) and logged in`,
      ),
    login: async ([user = '', password = '']) =>
      show(
        await session.login(user, password),
        (r) => `logged in; session until ${new Date(Number(r.expires_at_ms)).toISOString()}`,
      ),
    logout: async () => show(await session.logout(), () => 'logged out'),
    deposit: async ([amount = '']) =>
      show(await session.deposit(amount), (a) => `cash ${a.cash}, reserved ${a.reserved_cash}`),
    quote: async ([symbol = '']) => {
      const q = await quotes.get(symbol.toUpperCase());
      say(
        `${q.symbol} ${q.price} (tick ${q.sequence}, valid ${((Number(q.expires_at_ms) - Date.now()) / 1000).toFixed(1)} s more)`,
      );
    },
    buy: (args) => trade('buy', 'bought', args),
    sell: (args) => trade('sell', 'sold', args),
    portfolio: async () =>
      show(await session.portfolio(), (p) =>
        [
          `cash ${p.account?.cash}, reserved ${p.account?.reserved_cash}`,
          p.holdings.length
            ? textTable(
                ['symbol', 'shares', 'reserved'],
                p.holdings.map((h) => [h.symbol, h.shares, h.reserved_shares]),
              )
            : 'no holdings',
        ].join('\n'),
      ),
    trades: async ([n = '20']) =>
      show(await session.trades(Number(n)), (r) =>
        r.trades.length
          ? textTable(
              ['id', 'side', 'symbol', 'shares', 'price', 'total', 'when', 'replica'],
              r.trades.map((t) => [
                t.id,
                t.side === 'SIDE_BUY' ? 'buy' : 'sell',
                t.symbol,
                t.shares,
                t.price,
                t.total,
                new Date(Number(t.executed_at_ms)).toISOString(),
                t.replica_id,
              ]),
              [0, 1, 2, 6, 7],
            )
          : 'no trades',
      ),
    view: async () => {
      const v = session.client.currentView;
      say(`view ${v.number}: ${v.members.map((m) => `${m.id} ${m.address}`).join(', ') || 'no replicas'}`);
    },
    status: async () => {
      const s = await deps.status();
      say(`${formatSummary(s)}\n${formatReplicaTable(s)}`);
    },
  };

  const lines = createInterface({
    input,
    output: interactive ? (out as NodeJS.WriteStream) : undefined,
    terminal: interactive,
  });
  if (interactive) {
    say(`hedge trading client (${session.client.options.mode} mode). Type help for commands.`);
    lines.setPrompt(`${session.username ?? 'hedge'}> `);
    lines.prompt();
  }
  for await (const raw of lines) {
    const [name = '', ...args] = raw.trim().split(/\s+/);
    if (name === 'quit' || name === 'exit') break;
    if (name !== '' && !name.startsWith('#')) {
      const command = commands[name.toLowerCase()];
      if (!command) {
        say(`unknown command ${JSON.stringify(name)}; type help`);
      } else {
        try {
          await command(args);
        } catch (err) {
          if (err instanceof ReplicatedCallError) {
            say(`error: ${status[err.code]}${err.reason ? ` ${err.reason}` : ''}: ${err.details}`);
            say(telemetryLine(err.telemetry));
          } else {
            say(`error: ${(err as Error).message}`);
          }
        }
      }
    }
    if (interactive) {
      lines.setPrompt(`${session.username ?? 'hedge'}> `);
      lines.prompt();
    }
  }
  lines.close();
}
