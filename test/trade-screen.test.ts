import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requestsOf, serving, tradeArgs, useCluster } from './support/cluster.js';
import { type Pty, usePtys } from './support/pty.js';
import { Screen } from './support/screen.js';
import { useTempDir } from './support/temp-dir.js';
import { uniqueUsername } from './support/trader.js';

/** Where the README's captured screens come from: HEDGE_SCREEN_OUT=<dir> writes them there. */
const CAPTURE = process.env.HEDGE_SCREEN_OUT;
const capture = async (screen: Screen, name: string) => {
  if (CAPTURE) writeFileSync(join(CAPTURE, `${name}.txt`), `${await screen.text()}\n`);
};

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const group = (match: RegExpExecArray, i: number): string => {
  const found = match[i];
  if (found === undefined) throw new Error(`no group ${i} in ${match[0]}`);
  return found;
};
/** A foreground colour's escape sequence (ESC [ 3x m). */
const SGR_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[3[0-9]m`);
const centsOf = (dollars: string) => BigInt(dollars.replace('.', ''));

// Generous: each test drives a real client through several replicated calls on a shared, loaded machine.
describe('hedge trade, full screen in a terminal', { timeout: 180_000 }, () => {
  // A feed whose prices move on every tick (once a second), as a live ticker needs.
  const c = useCluster([], { mode: 'walk', tickMs: 1_000 });
  const home = useTempDir('hedge-trade-screen-');
  const inPty = usePtys();

  const open = (options: { colour?: boolean; args?: string[] } = {}) => {
    // A terminal that says what it is (colour needs one that is not "dumb").
    const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm-256color' };
    if (options.colour) delete env.NO_COLOR;
    else env.NO_COLOR = '1';
    const pty = inPty(
      process.execPath,
      tradeArgs(c, '--data-dir', home.path, '--watch', 'ABC,DEF', ...(options.args ?? [])),
      60_000,
      env,
    );
    return { pty, screen: new Screen(pty) };
  };
  /** Types a line a key at a time, as a person does. */
  const typeLine = (pty: Pty, line: string) => {
    for (const ch of line) pty.type(ch);
    pty.type('\r');
  };
  /** Signs a new user up at the hidden prompt, with cash. */
  const signUp = async (pty: Pty, screen: Screen, user: string, password: string) => {
    await screen.expect(/hedge>/);
    typeLine(pty, `register ${user}`);
    await screen.expect(/password:/);
    typeLine(pty, password);
    await screen.expect(new RegExp(`registered ${user} and logged in`));
    typeLine(pty, 'deposit 10000');
    await screen.expect(/cash 10000\.00 /);
  };
  const quit = async (pty: Pty) => {
    typeLine(pty, 'quit');
    expect(await pty.exited).toBe(0);
  };

  it('signs up, watches the ticker move, buys with confirmation, and sees the P&L move with the next tick', async () => {
    const user = uniqueUsername('screen');
    const { pty, screen } = open();
    await signUp(pty, screen, user, 'Hidden-Pass-93');

    // The ticker changes on a tick.
    const first = group(await screen.expect(/ABC (\d+\.\d\d) /), 1);
    await screen.expect(new RegExp(`ABC (?!${literal(first)} )\\d+\\.\\d\\d `), 60_000);

    typeLine(pty, 'buy ABC 10');
    const asked = await screen.expect(/buy 10 ABC at (\d+\.\d\d) = (\d+\.\d\d), cash after (\d+\.\d\d)/);
    expect(centsOf(group(asked, 2))).toBe(centsOf(group(asked, 1)) * 10n);
    expect(centsOf(group(asked, 3))).toBe(1_000_000n - centsOf(group(asked, 2)));
    await screen.expect(/send\? \[y\/N\]/);
    typeLine(pty, 'y');
    await screen.expect(/bought 10 ABC at/);
    // The order's replicated call: which replica answered, copies, fail-overs, latency.
    await screen.expect(/buy 10 ABC\s+ok\s+r\d\s+3\s+0\s+\d+\.\dms/);
    const row = await screen.expect(/ABC\s+10\s+(\d+\.\d\d)\s+(\d+\.\d\d)\s+([+-]?\d+\.\d\d)\s+0\.00/);
    // Bought at the average cost: no P&L until the price moves.
    expect(group(row, 1)).toBe(group(asked, 1));
    const value = group(row, 2);
    // The next tick moves the position's value and its unrealised P&L with it.
    const moved = await screen.expect(
      new RegExp(
        `ABC\\s+10\\s+\\d+\\.\\d\\d\\s+(?!${literal(value)}\\s)(\\d+\\.\\d\\d)\\s+([+-]?\\d+\\.\\d\\d)`,
      ),
      60_000,
    );
    expect(centsOf(group(moved, 2))).toBe(centsOf(group(moved, 1)) - centsOf(group(asked, 2)));
    await capture(screen, 'trading');
    await quit(pty);
    // Typed once, at a hidden prompt: never shown.
    expect(pty.output).not.toContain('Hidden-Pass-93');
  });

  it('Ctrl-C at the confirmation buys nothing, and a quote that expires while the person decides is refreshed, not traded', async () => {
    const user = uniqueUsername('cancel');
    const { pty, screen } = open();
    await signUp(pty, screen, user, 'cancel-password');
    typeLine(pty, 'buy ABC 5');
    await screen.expect(/send\? \[y\/N\]/);
    pty.type('\x03');
    await screen.expect(/cancelled: nothing bought/);

    typeLine(pty, 'buy ABC 2');
    const good = Number(
      group(
        await screen.expect(/buy 2 ABC at [\d.]+ = [\d.]+, cash after [\d.]+ \(quote good (\d+) s more\)/),
        1,
      ),
    );
    // Decided on only after the quote ran out (the test feed's quotes live 10 s).
    await new Promise((r) => setTimeout(r, (good + 1) * 1_000));
    typeLine(pty, 'y');
    await screen.expect(/the quote for ABC expired while you decided; here is a fresh one/);
    await screen.expect(/send\? \[y\/N\]/);
    pty.type('\x03');
    await screen.expect(/cancelled: nothing bought[\s\S]*cancelled: nothing bought/);
    await quit(pty);
    expect(await requestsOf(c, user)).toEqual(['deposit']);
  });

  it('a killed replica changes the view on screen, and the next order still succeeds', async () => {
    const user = uniqueUsername('failover');
    const { pty, screen } = open({ args: ['--yes'] });
    await signUp(pty, screen, user, 'failover-password');
    const before = group(await screen.expect(/view (\d+): r\d r\d r\d \(3 serving\)/), 1);
    const victim = serving(await c.status())[0];
    if (!victim) throw new Error('no serving replica');
    process.kill(victim.pid, 'SIGKILL');
    // The membership watcher's next view, without the killed replica, shows at once.
    await screen.expect(new RegExp(`view \\d+: [r\\d ]+\\(${victim.id} left[^)]*\\)`));
    await screen.expect(new RegExp(`view (?!${before}:)\\d+:`));
    typeLine(pty, 'buy ABC 1');
    await screen.expect(/bought 1 ABC at/);
    await screen.expect(/buy 1 ABC\s+ok\s+r\d/);
    // The manager's table, followed beside the view: the killed replica was replaced, and why.
    await screen.expect(new RegExp(`replica ${victim.id} replaced \\(restart \\d+\\): \\S`));
    await capture(screen, 'failover');
    await quit(pty);
    expect(await requestsOf(c, user)).toEqual(['deposit', 'buy']);
  });

  it('a new session finds the last one in its history (Up), with no password, and Tab completes commands and symbols', async () => {
    const user = uniqueUsername('history');
    const first = open();
    await first.screen.expect(/hedge>/);
    typeLine(first.pty, `register ${user} Line-Secret-55`);
    await first.screen.expect(new RegExp(`registered ${user}`));
    typeLine(first.pty, 'quote DEF');
    await first.screen.expect(/DEF \d+\.\d\d, good/);
    await quit(first.pty);
    const history = readFileSync(join(home.path, 'trade-history'), 'utf8');
    expect(history).toContain(`register ${user}\n`);
    expect(history).not.toContain('Line-Secret-55');

    const second = open();
    await second.screen.expect(/hedge>/);
    second.pty.type('\x1b[A');
    await second.screen.expect(/hedge> quote DEF/);
    second.pty.type('\x1b[A');
    await second.screen.expect(new RegExp(`hedge> register ${user}\\s*$`, 'm'));
    second.pty.type('\x15');
    for (const ch of 'dep\t') second.pty.type(ch);
    await second.screen.expect(/hedge> deposit\s*$/m);
    second.pty.type('\x15');
    // The symbols to complete are the feed's, listed before the ticker's first quotes show.
    await second.screen.expect(/ABC \d+\.\d\d /);
    for (const ch of 'quote G\t') second.pty.type(ch);
    await second.screen.expect(/hedge> quote GHI\s*$/m);
    // Ctrl-C clears the line; twice on an empty one leaves.
    second.pty.type('\x03');
    await second.screen.expect(/hedge>\s*$/m);
    second.pty.type('\x03');
    await second.screen.expect(/Ctrl-C again \(or quit\) to leave/);
    second.pty.type('\x03');
    expect(await second.pty.exited).toBe(0);
  });

  it('day trading: BUY with its 60 s window counting down, COMMIT, a trigger, the summary, help and the DUMPLOG file', async () => {
    const user = uniqueUsername('day');
    const { pty, screen } = open();
    const dump = join(home.path, `${user}.xml`);
    await signUp(pty, screen, user, 'day-password');
    typeLine(pty, 'help');
    await screen.expect(/day trading: +dbuy commit_buy cancel_buy dsell commit_sell cancel_sell/);
    // The whole list is longer than the screen: PgUp scrolls back to its start.
    typeLine(pty, 'help all');
    await screen.expect(/confirm <on\|off> +ask before each buy/);
    const start = /register <user> \[password\] +sign up and log in/;
    for (let page = 0; !start.test(await screen.text()); page += 1) {
      if (page > 10) throw new Error(`PgUp never reached the start of help:\n${await screen.text()}`);
      const above = group(await screen.expect(/messages \((\d+) above/), 1);
      pty.type('\x1b[5~');
      await screen.expect(new RegExp(`messages \\((?!${above} above)\\d+ above`));
    }
    pty.type('\x1b[6~');
    typeLine(pty, 'help dbuy');
    await screen.expect(/dbuy <SYMBOL> <dollars>: day-trading BUY/);
    typeLine(pty, 'dbuy ABC 100');
    const left = Number(group(await screen.expect(/buy ABC \$[\d.]+ → \d+ @[\d.]+ (\d+)s left/), 1));
    expect(left).toBeLessThanOrEqual(60);
    await screen.expect(new RegExp(`buy ABC \\$[\\d.]+ → \\d+ @[\\d.]+ (?!${left}s)\\d+s left`));
    typeLine(pty, 'commit_buy');
    await screen.expect(/commit_buy\s+ok/);
    await screen.expect(/PENDING \(60 s\) AND TRIGGERS\s*\n.*none/);
    typeLine(pty, 'set_buy_amount DEF 50');
    await screen.expect(/trigger buy DEF \$50\.00/);
    typeLine(pty, 'set_buy_trigger DEF 1.00');
    await screen.expect(/trigger buy DEF \$50\.00 at 1\.00 \(armed\)/);
    typeLine(pty, 'summary');
    await screen.expect(/summary: cash [\d.]+, 0 pending, 1 trigger\(s\)/);
    typeLine(pty, `dumplog ${dump}`);
    await screen.expect(/your log is in/);
    await quit(pty);
    const xml = readFileSync(dump, 'utf8');
    expect(xml).toMatch(/^<\?xml/);
    expect(xml).toContain('<command>COMMIT_BUY</command>');
    expect(xml).toContain(`<username>${user}</username>`);
    // Logged in from the command line, a new session shows the trigger left from this one.
    const again = open({ args: ['--user', user, '--password', 'day-password'] });
    await again.screen.expect(new RegExp(`hedge · ${user}`));
    await again.screen.expect(/trigger buy DEF \$50\.00 at 1\.00 \(armed\)/);
    await quit(again.pty);
  });

  it('colour on a terminal unless NO_COLOR is set; a symbol the feed does not quote is not watched', async () => {
    const coloured = open({ colour: true });
    await coloured.screen.expect(/hedge>/);
    await coloured.screen.expect(/ABC \d+\.\d\d /);
    expect(coloured.pty.raw).toMatch(SGR_COLOUR);
    await quit(coloured.pty);
    const plain = open();
    await plain.screen.expect(/hedge>/);
    const price = group(await plain.screen.expect(/ABC (\d+\.\d\d) /), 1);
    // A symbol the feed does not quote is refused, and the ticker goes on.
    typeLine(plain.pty, 'watch ZZZ');
    await plain.screen.expect(/not watching ZZZ: /);
    await plain.screen.expect(new RegExp(`ABC (?!${literal(price)} )\\d+\\.\\d\\d `), 60_000);
    await quit(plain.pty);
    expect(plain.pty.raw).not.toMatch(SGR_COLOUR);
  });
});
