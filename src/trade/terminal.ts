import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { status } from '@grpc/grpc-js';
import type { ManagerStatus } from '../client/manager-client.js';
import type { QuoteSource } from '../client/quote-source.js';
import { type CallResult, type CallTelemetry, ReplicatedCallError } from '../client/replicated-client.js';
import type { TradingSession } from '../client/trading-session.js';
import { formatReplicaTable, formatSummary } from '../ui/status-view.js';
import { textTable } from '../ui/text-table.js';
import {
  COUNT,
  type CommandSpec,
  DOLLARS,
  SHARES,
  SYMBOL,
  text,
  UsageError,
  usageOf,
  withoutPassword,
} from './command-args.js';
import { Cancelled, runCommand } from './command-run.js';
import type { HistoryFile } from './history-file.js';

export interface TerminalDeps {
  session: TradingSession;
  quotes: QuoteSource;
  status: () => Promise<ManagerStatus>;
  out: NodeJS.WritableStream;
  /** Where refusals and failures go: stderr, so that a script's output holds only answers. */
  err: NodeJS.WritableStream;
  /** The lines typed on a terminal, across sessions (a script's are not kept). */
  history?: HistoryFile;
}

/**
 * The terminal's output with an off switch: readline echoes every key through
 * it, so muting it hides a password as it is typed.
 */
class MutableOutput extends Writable {
  muted = false;

  constructor(private readonly target: NodeJS.WriteStream) {
    super();
    target.on('resize', () => this.emit('resize'));
  }

  get columns(): number {
    return this.target.columns;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    if (!this.muted) this.target.write(chunk);
    done();
  }
}

function telemetryLine(t: CallTelemetry): string {
  const failed = t.failures.length
    ? `, failed: ${t.failures.map((f) => `${f.replica} ${status[f.code]}`).join(', ')}`
    : '';
  return `  [${t.mode} · answered by ${t.answeredBy ?? '-'} in ${t.latencyMs.toFixed(1)} ms · ${t.attempts} attempt(s) · view ${t.view}${failed}]`;
}

/**
 * The terminal trading client: one command per line (interactive, or a script
 * on stdin), each answered with the result and how the replicated call went.
 * Resolves to the number of lines that failed (refused, unknown or answered with an error).
 * `loginAs` starts with a login as that user, its password asked for (a terminal only).
 */
export async function runTerminal(
  deps: TerminalDeps,
  input: NodeJS.ReadableStream,
  interactive: boolean,
  loginAs?: string,
): Promise<number> {
  const { session, quotes, out, err } = deps;
  const say = (line: string): void => {
    out.write(`${line}\n`);
  };
  const complain = (line: string): void => {
    err.write(`${line}\n`);
  };
  const show = <T>(result: CallResult<T>, render: (r: T) => string) => {
    say(render(result.response));
    say(telemetryLine(result.telemetry));
  };
  /** A buy or sell at the latest quote the source holds. */
  const trade = async (side: 'buy' | 'sell', done: string, [symbol = '', shares = '']: string[]) => {
    const quote = await quotes.get(symbol);
    show(
      await session[side](symbol, shares, quote),
      (r) =>
        `${done} ${r.trade?.shares} ${r.trade?.symbol} at ${r.trade?.price} = ${r.trade?.total}; cash ${r.account?.cash}`,
    );
  };

  const output = interactive ? new MutableOutput(out as NodeJS.WriteStream) : undefined;
  // A person's earlier sessions come back with Up (readline wants the newest first).
  const saved = interactive ? deps.history : undefined;
  const lines = createInterface({
    input,
    output,
    terminal: interactive,
    ...(saved ? { history: saved.load().reverse() } : {}),
  });
  /** Set while a password is being typed: Ctrl-C or Ctrl-D cancels it. */
  let cancelSecret: (() => void) | undefined;
  /** A password typed at the prompt, echo off; only a terminal can hide one. */
  const askPassword = (): Promise<string> => {
    if (!output) throw new UsageError('a script must give the password on the line');
    return new Promise((resolve, reject) => {
      const abort = new AbortController();
      const finish = () => {
        output.muted = false;
        cancelSecret = undefined;
        say('');
      };
      cancelSecret = () => {
        abort.abort();
        finish();
        reject(new Cancelled());
      };
      lines.question('password: ', { signal: abort.signal }, (answer) => {
        finish();
        resolve(answer);
      });
      // After the prompt is written: from here on, readline's echo goes nowhere.
      output.muted = true;
    });
  };
  /** Register or Login: the password from the line, or asked for with echo off (a script must give it). */
  const signInCommand = <T>(
    describe: string,
    signIn: (user: string, password: string) => Promise<CallResult<T>>,
    render: (r: T) => string,
  ): CommandSpec => ({
    args: [text('user'), text('password')],
    required: interactive ? 1 : 2,
    describe,
    run: async ([user = '', password]) => show(await signIn(user, password ?? (await askPassword())), render),
  });

  const commands: Record<string, CommandSpec> = {
    help: { args: [], describe: 'this list', run: async () => say(help()) },
    register: signInCommand(
      'create an account and log in (asks for the password if not given)',
      (user, password) => session.register(user, password),
      (r) => `registered ${r.username} (user ${r.user_id}) and logged in`,
    ),
    login: signInCommand(
      'start a session (asks for the password if not given)',
      (user, password) => session.login(user, password),
      (r) => `logged in; session until ${new Date(Number(r.expires_at_ms)).toISOString()}`,
    ),
    logout: {
      args: [],
      describe: 'end the session',
      run: async () => show(await session.logout(), () => 'logged out'),
    },
    deposit: {
      args: [DOLLARS],
      describe: 'e.g. deposit 1000.50',
      run: async ([amount = '']) =>
        show(await session.deposit(amount), (a) => `cash ${a.cash}, reserved ${a.reserved_cash}`),
    },
    quote: {
      args: [SYMBOL],
      describe: "the feed's current signed quote",
      run: async ([symbol = '']) => {
        const q = await quotes.get(symbol);
        say(
          `${q.symbol} ${q.price} (issued ${new Date(Number(q.issued_at_ms)).toISOString().slice(11, 19)} UTC, valid ${((Number(q.expires_at_ms) - Date.now()) / 1000).toFixed(1)} s more)`,
        );
      },
    },
    buy: {
      args: [SYMBOL, SHARES],
      describe: 'at the current quote',
      run: (args) => trade('buy', 'bought', args),
    },
    sell: {
      args: [SYMBOL, SHARES],
      describe: 'at the current quote',
      run: (args) => trade('sell', 'sold', args),
    },
    portfolio: {
      args: [],
      describe: 'cash, reserved cash and holdings',
      run: async () =>
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
    },
    trades: {
      args: [COUNT],
      required: 0,
      describe: 'your latest trades (default 20)',
      run: async ([n = '20']) =>
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
    },
    view: {
      args: [],
      describe: 'the replicas the client is using',
      run: async () => {
        const v = session.client.currentView;
        say(`view ${v.number}: ${v.members.map((m) => `${m.id} ${m.address}`).join(', ') || 'no replicas'}`);
      },
    },
    status: {
      args: [],
      describe: "the manager's replica table",
      run: async () => {
        const s = await deps.status();
        say(`${formatSummary(s)}\n${formatReplicaTable(s)}`);
      },
    },
  };
  const help = (): string => {
    const usages = Object.entries(commands).map(([name, spec]) => [usageOf(name, spec), spec.describe]);
    const width = Math.max(...usages.map(([u = '']) => u.length)) + 3;
    return [
      'commands:',
      ...usages.map(([u = '', d]) => `  ${u.padEnd(width)}${d}`),
      '  quit (or Ctrl-D)',
    ].join('\n');
  };

  // Neither a password typed at the prompt nor one given on a login line stays in the history.
  lines.on('history', (history: string[]) => {
    if (cancelSecret) {
      history.shift();
      return;
    }
    history[0] = withoutPassword(history[0] ?? '');
    if (saved && !/^\s*(quit|exit)\s*$/.test(history[0])) saved.add(history[0]);
  });
  // Ctrl-C abandons the line being typed; a second one on an empty line quits, as Ctrl-D does.
  let interrupted = false;
  lines.on('SIGINT', () => {
    if (cancelSecret) {
      cancelSecret();
      return;
    }
    const typed = lines.line.length > 0;
    if (!typed && interrupted) {
      lines.close();
      return;
    }
    interrupted = !typed;
    lines.write(null, { ctrl: true, name: 'e' });
    out.write(typed ? '^C\n' : '^C (Ctrl-C again or Ctrl-D to quit)\n');
    lines.write(null, { ctrl: true, name: 'u' });
  });
  lines.on('close', () => cancelSecret?.());

  let failed = 0;
  const prompt = () => {
    if (!interactive) return;
    lines.setPrompt(`${session.username ?? 'hedge'}> `);
    lines.prompt();
  };
  /** Runs one command; a failure is counted and said, never thrown. */
  const execute = async (name: string, spec: CommandSpec, words: string[]): Promise<void> => {
    const failure = await runCommand(name, spec, words);
    if (!failure) return;
    failed += 1;
    // Nothing to say about a cancelled password prompt: the user knows.
    if (failure.message) complain(failure.message);
    if (failure.error instanceof ReplicatedCallError) complain(telemetryLine(failure.error.telemetry));
  };
  if (interactive) say(`hedge trading client (${session.client.options.mode} mode). Type help for commands.`);
  // Lines typed while the login is under way wait their turn here.
  const incoming = lines[Symbol.asyncIterator]();
  if (loginAs !== undefined) await execute('login', commands.login as CommandSpec, [loginAs]);
  prompt();
  for await (const raw of { [Symbol.asyncIterator]: () => incoming }) {
    interrupted = false;
    const [name = '', ...words] = raw.trim().split(/\s+/);
    if (name === 'quit' || name === 'exit') break;
    if (name !== '' && !name.startsWith('#')) {
      const spec = commands[name.toLowerCase()];
      if (!spec) {
        complain(`unknown command ${JSON.stringify(name)}; type help`);
        failed += 1;
      } else {
        await execute(name, spec, words);
      }
    }
    prompt();
  }
  lines.close();
  return failed;
}
