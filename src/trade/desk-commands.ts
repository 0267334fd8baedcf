import { appendFileSync, writeFileSync } from 'node:fs';
import { status } from '@grpc/grpc-js';
import type { DayTradingSession } from '../client/day-trading-session.js';
import type { ManagerStatus } from '../client/manager-client.js';
import { type CallResult, ReplicatedCallError } from '../client/replicated-client.js';
import { formatCents } from '../common/money.js';
import type { CommandResult__Output } from '../gen/hedge/v1/CommandResult.js';
import type { SignedQuote__Output } from '../gen/hedge/v1/SignedQuote.js';
import { formatReplicaTable, formatSummary } from '../ui/status-view.js';
import {
  type CommandSpec,
  DOLLARS,
  dollars,
  SHARES,
  SYMBOL,
  text,
  UsageError,
  usageOf,
} from './command-args.js';
import { runCommand } from './command-run.js';
import { cents } from './positions.js';
import type { TradingDesk } from './trading-desk.js';

/** How a command asks the person at the terminal something (the order line turns into the question). */
export interface Prompter {
  /** A line typed in answer; `secret` hides it as it is typed. Rejects with Cancelled on Ctrl-C. */
  ask(prompt: string, secret?: boolean): Promise<string>;
  /** y or n; Ctrl-C is n. */
  confirm(question: string): Promise<boolean>;
}

export interface DeskOptions {
  /** Ask before a buy or sell is sent (off with --yes or `confirm off`). */
  confirm: boolean;
  status: () => Promise<ManagerStatus>;
}

/** `help`'s list: every command by what it is for. */
const GROUPS: [string, string[]][] = [
  ['account', ['register', 'login', 'logout', 'deposit', 'refresh']],
  ['trade', ['quote', 'buy', 'sell', 'watch', 'unwatch', 'confirm']],
  ['day trading', ['dbuy', 'commit_buy', 'cancel_buy', 'dsell', 'commit_sell', 'cancel_sell']],
  ['triggers', ['set_buy_amount', 'set_buy_trigger', 'cancel_set_buy']],
  ['', ['set_sell_amount', 'set_sell_trigger', 'cancel_set_sell']],
  ['reports', ['summary', 'dumplog', 'view', 'status', 'help', 'quit']],
];
const KEYS =
  'keys: Tab completes, Up/Down recall, Ctrl-C cancels the line or the question, twice quits; PgUp/PgDn scroll';

type Side = 'buy' | 'sell';
/** What the day-trading commands of a buy and of a sell say differently. */
const SIDE_WORDS = {
  buy: {
    Name: 'Buy',
    reserve: 'reserve dollars of a stock at the quote',
    reserved: 'reserved',
    amount: 'reserve dollars for a buy trigger on a symbol',
    moves: 'falls',
    holds: 'cash',
  },
  sell: {
    Name: 'Sell',
    reserve: 'dollars of a stock held, at the quote',
    reserved: 'set aside',
    amount: 'dollars of a symbol to sell by trigger',
    moves: 'rises',
    holds: 'shares',
  },
} as const;

/** A quote is traded only with at least this much of its life left; an older one is fetched again. */
const QUOTE_MARGIN_MS = 1_500;

/**
 * The full-screen client's commands: the line mode's, the SEng 468
 * day-trading commands, and the ticker's. Every call's telemetry goes to the
 * desk's order list; answers go to its messages; failures are thrown (the
 * caller says them).
 */
export function deskCommands(
  desk: TradingDesk,
  dayTrading: DayTradingSession,
  prompter: Prompter,
  options: DeskOptions,
): Record<string, CommandSpec> {
  const { session, quotes } = desk;
  /** Sends one replicated call, recording how it went whether it worked or not. */
  const send = async <T>(what: string, call: () => Promise<CallResult<T>>, render: (r: T) => string) => {
    try {
      const result = await call();
      const outcome = render(result.response);
      desk.record({ what, ok: true, outcome, telemetry: result.telemetry });
      desk.say(outcome, 'good');
      return result.response;
    } catch (err) {
      if (err instanceof ReplicatedCallError) {
        desk.record({
          what,
          ok: false,
          outcome: `${status[err.code]}${err.reason ? ` ${err.reason}` : ''}`,
          telemetry: err.telemetry,
        });
      }
      throw err;
    }
  };
  const loggedIn = () => {
    if (!session.username) throw new UsageError('log in first: login <user>, or register <user> to sign up');
  };
  const afterAccountChange = () => void desk.refresh().catch((e) => desk.say(`refresh: ${e.message}`, 'bad'));
  const password = async (given: string | undefined) => given ?? (await prompter.ask('password: ', true));

  /** Register or login: the password asked for, hidden, unless given; the last user's figures cleared once in. */
  const signInCommand = <T>(
    what: string,
    describe: string,
    signIn: (user: string, password: string) => Promise<CallResult<T>>,
    render: (r: T, user: string) => string,
    then: () => unknown,
  ): CommandSpec => ({
    args: [text('user'), text('password')],
    required: 1,
    describe,
    run: async ([user = '', given]) => {
      await send(
        what,
        async () => signIn(user, await password(given)),
        (r) => render(r, user),
      );
      desk.clearAccount();
      await then();
    },
  });

  /** A buy or sell of whole shares at a live quote, shown and confirmed first; a quote that aged out is fetched again. */
  const trade = async (side: 'buy' | 'sell', [symbol = '', sharesText = '']: string[]) => {
    loggedIn();
    const shares = BigInt(sharesText);
    for (;;) {
      let quote: SignedQuote__Output = await quotes.get(symbol);
      if (Number(quote.expires_at_ms) - Date.now() < QUOTE_MARGIN_MS) quote = await quotes.get(symbol);
      const total = cents(quote.price) * shares;
      const cash = desk.account ? cents(desk.account.cash) : undefined;
      const after = cash === undefined ? '?' : formatCents(side === 'buy' ? cash - total : cash + total);
      if (options.confirm) {
        const left = Math.max(0, (Number(quote.expires_at_ms) - Date.now()) / 1000).toFixed(0);
        const yes = await prompter.confirm(
          `${side} ${shares} ${symbol} at ${quote.price} = ${formatCents(total)}, cash after ${after} (quote good ${left} s more)`,
        );
        if (!yes) {
          desk.say(`cancelled: nothing ${side === 'buy' ? 'bought' : 'sold'}`);
          return;
        }
        if (Number(quote.expires_at_ms) - Date.now() < QUOTE_MARGIN_MS) {
          desk.say(`the quote for ${symbol} expired while you decided; here is a fresh one`);
          continue;
        }
      }
      await send(
        `${side} ${shares} ${symbol}`,
        () => session[side](symbol, shares, quote),
        (r) =>
          `${side === 'buy' ? 'bought' : 'sold'} ${r.trade?.shares} ${r.trade?.symbol} at ${r.trade?.price} = ${r.trade?.total}; cash ${r.account?.cash}`,
      );
      afterAccountChange();
      return;
    }
  };

  /** A day-trading command: its answer's message, its order or trigger kept on the desk. */
  const dayCommand = async (what: string, call: () => Promise<CallResult<CommandResult__Output>>) => {
    loggedIn();
    const r = await send(what, call, (r) => r.message || 'done');
    const [name = ''] = what.split(' ');
    const settled = /^(commit|cancel)_(buy|sell)$/.exec(name);
    if (settled) {
      // COMMIT and CANCEL take the newest pending order of their side.
      const newest = desk.pending.findLastIndex((o) => o.side === settled[2]);
      if (newest >= 0) desk.pending = desk.pending.filter((_, i) => i !== newest);
    } else if (r.order) {
      desk.pending = [...desk.pending, r.order];
    }
    if (r.trigger) {
      const t = r.trigger;
      desk.triggers = [
        ...desk.triggers.filter((x) => !(x.side === t.side && x.symbol === t.symbol)),
        ...(['set', 'armed'].includes(t.state) ? [t] : []),
      ];
    }
    if (r.account) desk.account = r.account;
    desk.changed();
    afterAccountChange();
  };
  const quoted = (symbol: string) => quotes.get(symbol).catch(() => null);

  /** dbuy, commit_buy, cancel_buy, and the same three of a sell: a side's pending order. */
  const orderCommands = (side: Side): Record<string, CommandSpec> => {
    const { Name, reserve, reserved } = SIDE_WORDS[side];
    return {
      [`d${side}`]: {
        args: [SYMBOL, DOLLARS],
        describe: `day-trading ${side.toUpperCase()}: ${reserve}; commit_${side} within 60 s`,
        run: async ([symbol = '', amount = '']) =>
          dayCommand(`${side} ${symbol} ${amount}`, async () =>
            dayTrading[side](symbol, amount, await quoted(symbol)),
          ),
      },
      [`commit_${side}`]: {
        args: [],
        describe: `${side} what the last d${side} ${reserved}`,
        run: () => dayCommand(`commit_${side}`, () => dayTrading[`commit${Name}`]()),
      },
      [`cancel_${side}`]: {
        args: [],
        describe: `drop the last d${side}`,
        run: () => dayCommand(`cancel_${side}`, () => dayTrading[`cancel${Name}`]()),
      },
    };
  };
  /** set_buy_amount, set_buy_trigger, cancel_set_buy, and the same three of a sell: a side's trigger. */
  const triggerCommands = (side: Side): Record<string, CommandSpec> => {
    const { Name, amount, moves, holds } = SIDE_WORDS[side];
    return {
      [`set_${side}_amount`]: {
        args: [SYMBOL, DOLLARS],
        describe: amount,
        run: ([s = '', a = '']) =>
          dayCommand(`set_${side}_amount ${s} ${a}`, () => dayTrading[`set${Name}Amount`](s, a)),
      },
      [`set_${side}_trigger`]: {
        args: [SYMBOL, dollars('price')],
        describe: `${side} when the price ${moves} to this (after set_${side}_amount)`,
        run: ([s = '', p = '']) =>
          dayCommand(`set_${side}_trigger ${s} ${p}`, () => dayTrading[`set${Name}Trigger`](s, p)),
      },
      [`cancel_set_${side}`]: {
        args: [SYMBOL],
        describe: `drop a symbol's ${side} trigger, releasing its ${holds}`,
        run: ([s = '']) => dayCommand(`cancel_set_${side} ${s}`, () => dayTrading[`cancelSet${Name}`](s)),
      },
    };
  };

  const commands: Record<string, CommandSpec> = {
    help: {
      args: [text('command')],
      required: 0,
      describe: 'this list, or one command in full',
      run: async ([name]) => desk.say(help(name)),
    },
    register: signInCommand(
      'register',
      'sign up and log in (the password is asked for, hidden)',
      (user, password) => session.register(user, password),
      (r) => `registered ${r.username} and logged in`,
      afterAccountChange,
    ),
    login: signInCommand(
      'login',
      'log in (the password is asked for, hidden)',
      (user, password) => session.login(user, password),
      (_, user) => `logged in as ${user}`,
      async () => {
        await desk.refresh();
        await send(
          'display_summary',
          () => dayTrading.displaySummary(),
          () => 'pending orders and triggers read',
        ).then((s) => desk.takeSummary(s));
      },
    ),
    logout: {
      args: [],
      describe: 'end the session',
      run: async () => {
        await send(
          'logout',
          () => session.logout(),
          () => 'logged out',
        );
        desk.clearAccount();
      },
    },
    deposit: {
      args: [DOLLARS],
      describe: 'add cash, e.g. deposit 1000.50',
      run: async ([amount = '']) => {
        loggedIn();
        await send(
          `deposit ${amount}`,
          () => session.deposit(amount),
          (a) => `cash ${a.cash}`,
        );
        afterAccountChange();
      },
    },
    quote: {
      args: [SYMBOL],
      describe: "the feed's signed quote (and the symbol joins the ticker)",
      run: async ([symbol = '']) => {
        const q = await quotes.get(symbol);
        desk.say(
          `${q.symbol} ${q.price}, good ${((Number(q.expires_at_ms) - Date.now()) / 1000).toFixed(1)} s more`,
        );
        await desk.watch([symbol]);
      },
    },
    buy: {
      args: [SYMBOL, SHARES],
      describe: 'buy whole shares at the live quote (shows the total and asks first)',
      run: (args) => trade('buy', args),
    },
    sell: {
      args: [SYMBOL, SHARES],
      describe: 'sell whole shares at the live quote (shows the total and asks first)',
      run: (args) => trade('sell', args),
    },
    watch: {
      args: [SYMBOL],
      describe: 'add a symbol to the ticker',
      run: async ([symbol = '']) => desk.watch([symbol]),
    },
    unwatch: {
      args: [SYMBOL],
      describe: 'take a symbol off the ticker',
      run: async ([symbol = '']) => desk.unwatch(symbol),
    },
    refresh: {
      args: [],
      describe: 'read the account, positions and trades again',
      run: async () => {
        loggedIn();
        await desk.refresh();
      },
    },
    ...orderCommands('buy'),
    ...orderCommands('sell'),
    ...triggerCommands('buy'),
    ...triggerCommands('sell'),
    summary: {
      args: [],
      describe: 'DISPLAY_SUMMARY: account, pending orders and triggers, read again',
      run: async () => {
        loggedIn();
        const s = await send(
          'display_summary',
          () => dayTrading.displaySummary(),
          (s) =>
            `summary: cash ${s.account?.cash}, ${s.pending_orders.length} pending, ${s.triggers.length} trigger(s)`,
        );
        desk.takeSummary(s);
      },
    },
    dumplog: {
      args: [text('file')],
      describe: 'DUMPLOG: your own audit log, as XML, to a file here',
      run: async ([file = '']) => {
        loggedIn();
        writeFileSync(file, '');
        await send(
          'dumplog',
          () => dayTrading.dumpLog(file, false, 0, (xml) => appendFileSync(file, xml)),
          () => `your log is in ${file}`,
        );
      },
    },
    view: {
      args: [],
      describe: 'the replicas the client sends to',
      run: async () => {
        const v = desk.session.client.currentView;
        desk.say(
          `view ${v.number}: ${v.members.map((m) => `${m.id} ${m.address}`).join(', ') || 'no replicas'}`,
        );
      },
    },
    status: {
      args: [],
      describe: "the manager's replica table",
      run: async () => {
        const s = await options.status();
        desk.say(`${formatSummary(s)}\n${formatReplicaTable(s)}`);
      },
    },
    confirm: {
      args: [
        {
          name: 'on|off',
          parse: (t) => {
            if (t !== 'on' && t !== 'off') throw new UsageError(`on or off; got ${JSON.stringify(t)}`);
            return t;
          },
        },
      ],
      describe: 'ask before each buy and sell (on), or not (off)',
      run: async ([onOff]) => {
        options.confirm = onOff === 'on';
        desk.say(`confirmation ${onOff}`);
      },
    },
  };
  const help = (name?: string): string => {
    const line = (n: string, spec: CommandSpec, width: number) =>
      `${usageOf(n, spec).padEnd(width)}${spec.describe}`;
    if (name !== undefined && name.toLowerCase() !== 'all') {
      const spec = commands[name.toLowerCase()];
      if (!spec) throw new UsageError(`no command ${JSON.stringify(name)}; help lists them`);
      return `${usageOf(name.toLowerCase(), spec)}: ${spec.describe}`;
    }
    if (name === undefined) {
      const grouped = new Set(GROUPS.flatMap(([, names]) => names));
      const others = Object.keys(commands).filter((n) => !grouped.has(n));
      return [
        ...[...GROUPS, ...(others.length ? [['other', others] as const] : [])].map(
          ([heading, names]) => `${(heading ? `${heading}:` : '').padEnd(14)}${names.join(' ')}`,
        ),
        'help <command> explains one; help all lists them all (PgUp/PgDn scroll)',
        KEYS,
      ].join('\n');
    }
    const width = Math.max(...Object.entries(commands).map(([n, spec]) => usageOf(n, spec).length)) + 2;
    return [
      ...Object.entries(commands).map(([n, spec]) => line(n, spec, width)),
      `${'quit'.padEnd(width)}leave (or Ctrl-C twice)`,
      KEYS,
    ].join('\n');
  };
  return commands;
}

/** Runs one typed line; failures are said on the desk, never thrown. Resolves false when the line was quit. */
export async function runDeskLine(
  line: string,
  commands: Record<string, CommandSpec>,
  desk: TradingDesk,
): Promise<boolean> {
  const [name = '', ...words] = line.trim().split(/\s+/);
  if (name === '' || name.startsWith('#')) return true;
  if (name === 'quit' || name === 'exit') return false;
  const spec = commands[name.toLowerCase()];
  if (!spec) {
    desk.say(`unknown command ${JSON.stringify(name)}; type help`, 'bad');
    return true;
  }
  const failure = await runCommand(name, spec, words);
  if (failure) desk.say(failure.message ?? 'cancelled', failure.message ? 'bad' : undefined);
  return true;
}
