import { emitKeypressEvents, type Key as Keypress } from 'node:readline';
import { render, useStdout } from 'ink';
import { createElement as h, useEffect, useReducer } from 'react';
import { DayTradingSession } from '../client/day-trading-session.js';
import type { ManagerStatus } from '../client/manager-client.js';
import type { QuoteSource } from '../client/quote-source.js';
import type { TradingSession } from '../client/trading-session.js';
import { type CommandSpec, withoutPassword } from './command-args.js';
import { Cancelled } from './command-run.js';
import { deskCommands, type Prompter, runDeskLine } from './desk-commands.js';
import type { HistoryFile } from './history-file.js';
import { OrderLine } from './order-line.js';
import { TradingDesk } from './trading-desk.js';
import { TradingScreen } from './trading-screen.js';

export interface FullScreenDeps {
  session: TradingSession;
  quotes: QuoteSource;
  feedAddress: string;
  status: () => Promise<ManagerStatus>;
  history: HistoryFile;
  /** Symbols on the ticker at start (default: the feed's first few). */
  watch: string[];
  confirm: boolean;
  colour: boolean;
  /** Log in as this user at start, the password asked for. */
  loginAs?: string;
}

/** A question the order line is asking for a command. */
interface Question {
  prompt: string;
  secret: boolean;
  answer(text: string): void;
  cancel(): void;
}

/**
 * The order line's keys: typing, editing, history, completion, Enter to run
 * a command or answer a question, Ctrl-C to cancel the line, the question or
 * (twice on an empty line) the client.
 */
class Keyboard implements Prompter {
  readonly line: OrderLine;
  question: Question | undefined;
  /** The lines run one after another, each after the last has finished. */
  private running: Promise<void> = Promise.resolve();
  /** quit was run: the lines still queued are dropped. */
  private left = false;
  /** A Ctrl-C on an empty line: another one quits. */
  private armed = false;
  commands: Record<string, CommandSpec> = {};
  /** Leaves the client (set once the screen is up). */
  quit: () => void = () => {};

  constructor(
    private readonly desk: TradingDesk,
    private readonly history: HistoryFile,
  ) {
    this.line = new OrderLine(history.load());
  }

  ask(prompt: string, secret = false): Promise<string> {
    return new Promise((resolve, reject) => {
      this.line.clear();
      this.question = {
        prompt,
        secret,
        answer: resolve,
        cancel: () => reject(new Cancelled()),
      };
      this.desk.changed();
    });
  }

  async confirm(question: string): Promise<boolean> {
    this.desk.say(question);
    try {
      const answer = await this.ask('send? [y/N] ');
      return /^y(es)?$/i.test(answer.trim());
    } catch (err) {
      if (err instanceof Cancelled) return false;
      throw err;
    }
  }

  /**
   * One key, as node's readline parsed it from the terminal's bytes: it splits
   * a chunk of several keys (typed fast, or pasted) into one event each.
   */
  press(text: string | undefined, key: Keypress): void {
    const name = key.name ?? '';
    if (key.ctrl && name.length === 1) this.control(name);
    else if (name === 'return' || name === 'enter') this.enter();
    else if (name === 'tab') this.complete();
    else if (name === 'pageup') this.desk.scroll(1, this.desk.messageRows);
    else if (name === 'pagedown') this.desk.scroll(-1, this.desk.messageRows);
    else if (name === 'up') this.line.recall(-1);
    else if (name === 'down') this.line.recall(1);
    else if (name === 'left') this.line.move(-1);
    else if (name === 'right') this.line.move(1);
    else if (name === 'home') this.line.home();
    else if (name === 'end') this.line.end();
    else if (name === 'backspace') this.line.backspace();
    else if (name === 'delete') this.line.deleteForward();
    else if (text && !key.meta && text >= ' ' && !text.startsWith('\x1b')) this.line.insert(text);
    if (!(key.ctrl && name === 'c')) this.armed = false;
    this.desk.changed();
  }

  private control(letter: string): void {
    if (letter === 'c') this.interrupt();
    else if (letter === 'd' && this.line.text === '' && !this.question) this.leave();
    else if (letter === 'u') this.line.clear();
    else if (letter === 'a') this.line.home();
    else if (letter === 'e') this.line.end();
  }

  private interrupt(): void {
    const q = this.question;
    if (q) {
      this.question = undefined;
      this.line.clear();
      q.cancel();
    } else if (this.line.text !== '') {
      this.line.clear();
    } else if (this.armed) {
      this.leave();
    } else {
      this.armed = true;
      this.desk.say('Ctrl-C again (or quit) to leave');
      return;
    }
  }

  private enter(): void {
    const q = this.question;
    if (q) {
      this.question = undefined;
      q.answer(this.line.take());
      return;
    }
    const typed = this.line.take();
    if (typed.trim() === '') return;
    // quit is not worth recalling: Up and Enter in the next session would leave it.
    const kept = /^\s*(quit|exit)\s*$/.test(typed) ? typed.trim() : this.history.add(typed);
    this.line.remember(kept);
    this.desk.say(`> ${withoutPassword(kept)}`);
    this.run(typed);
  }

  /**
   * Runs a line after the ones before it: what is typed while a command runs
   * waits its turn (type-ahead), and a question asked meanwhile is answered first.
   */
  run(line: string): Promise<void> {
    this.running = this.running.then(async () => {
      if (this.left) return;
      if (!(await runDeskLine(line, this.commands, this.desk))) this.leave();
      this.desk.changed();
    });
    return this.running;
  }

  /** Waits for `work` before any line runs (the start: quotes, view, login). */
  first(work: Promise<unknown>): void {
    this.running = this.running
      .then(() => work)
      .then(
        () => {},
        (err) => this.desk.say(`error: ${(err as Error).message}`, 'bad'),
      );
  }

  private leave(): void {
    this.left = true;
    this.quit();
  }

  private complete(): void {
    if (this.question) return;
    const names = [...Object.keys(this.commands), 'quit'];
    const matches = this.line.complete((index, before) => {
      if (index === 0) return names;
      const arg = this.commands[(before[0] ?? '').toLowerCase()]?.args[index - 1];
      if (arg?.name === 'SYMBOL') return [...new Set([...this.desk.watched, ...this.desk.symbols])];
      if (arg?.name === 'command') return names;
      if (arg?.name === 'on|off') return ['on', 'off'];
      return [];
    });
    if (matches.length > 1) this.desk.say(matches.join('  '));
  }
}

function App({
  desk,
  keyboard,
  colour,
  options,
}: {
  desk: TradingDesk;
  keyboard: Keyboard;
  colour: boolean;
  options: { confirm: boolean };
}) {
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const { stdout } = useStdout();
  useEffect(() => desk.onChange(redraw), [desk]);
  // Ages and countdowns move without any event.
  useEffect(() => {
    const timer = setInterval(redraw, 1_000);
    return () => clearInterval(timer);
  }, []);
  const q = keyboard.question;
  return h(TradingScreen, {
    desk,
    colour,
    confirm: options.confirm,
    rows: stdout.rows || 24,
    now: Date.now(),
    line: {
      prompt: q ? q.prompt : `${desk.session.username ?? 'hedge'}> `,
      text: keyboard.line.text,
      cursor: keyboard.line.cursor,
      secret: q?.secret ?? false,
    },
  });
}

/** The full-screen client until the person quits. */
export async function runFullScreen(deps: FullScreenDeps): Promise<void> {
  const desk = new TradingDesk(deps.session, deps.quotes, deps.feedAddress);
  const keyboard = new Keyboard(desk, deps.history);
  const options = { confirm: deps.confirm, status: deps.status };
  keyboard.commands = deskCommands(desk, new DayTradingSession(deps.session), keyboard, options);
  // The keys are read here, not by ink (whose useInput takes a chunk of keys for the first one alone).
  // Raw mode before the first frame: a key typed as the screen appears is not echoed by the terminal.
  emitKeypressEvents(process.stdin);
  process.stdin.setRawMode?.(true);
  const onKey = (text: string | undefined, key: Keypress) => keyboard.press(text, key);
  process.stdin.on('keypress', onKey);
  const app = render(h(App, { desk, keyboard, colour: deps.colour, options }), {
    exitOnCtrlC: false,
    patchConsole: false,
  });
  keyboard.quit = () => app.unmount();
  try {
    desk.say(
      `hedge trading client (${deps.session.client.options.mode} mode). Type help for commands; Tab completes.`,
    );
    keyboard.first(desk.start(deps.watch));
    desk.followReplicas(deps.status);
    // Logged in by --user and --password: the account, and the orders and triggers left from before.
    if (deps.session.username) {
      void keyboard.run('refresh');
      void keyboard.run('summary');
    } else if (deps.loginAs !== undefined) void keyboard.run(`login ${deps.loginAs}`);
    await app.waitUntilExit();
  } finally {
    process.stdin.off('keypress', onKey);
    process.stdin.setRawMode?.(false);
    process.stdin.pause();
    desk.stop();
    app.unmount();
  }
}
