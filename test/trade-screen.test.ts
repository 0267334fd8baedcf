import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_PATH } from '../src/common/paths.js';
import { serving, useCluster } from './support/cluster.js';
import { spawnInPty } from './support/pty.js';
import { Screen } from './support/screen.js';
import { uniqueUsername } from './support/trader.js';

/** Where the README's captured screen comes from: HEDGE_SCREEN_OUT=<file> writes it there. */
const CAPTURE = process.env.HEDGE_SCREEN_OUT;

describe('hedge trade, full screen in a terminal', () => {
  // A feed whose prices move on every tick (once a second), as a live ticker needs.
  const c = useCluster([], { mode: 'walk', tickMs: 1_000 });
  const home = mkdtempSync(join(tmpdir(), 'hedge-trade-screen-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  const open = (...extra: string[]) => {
    const pty = spawnInPty(
      process.execPath,
      [
        CLI_PATH,
        'trade',
        '--manager',
        c.managerAddress,
        '--feed',
        c.feed.address,
        '--data-dir',
        home,
        '--watch',
        'ABC,DEF',
        ...extra,
      ],
      60_000,
      { ...process.env, NO_COLOR: '1' },
    );
    return { pty, screen: new Screen(pty) };
  };
  /** Types a line a key at a time, as a person does. */
  const typeLine = (pty: ReturnType<typeof open>['pty'], line: string) => {
    for (const ch of line) pty.type(ch);
    pty.type('\r');
  };
  const priceOf = async (screen: Screen, symbol: string) =>
    (await screen.expect(new RegExp(`${symbol} (\\d+\\.\\d\\d) `)))[1];

  it('signs up, watches the ticker move, buys with confirmation, and sees the P&L move with the next tick', async () => {
    const user = uniqueUsername('screen');
    const { pty, screen } = open();
    try {
      await screen.expect(/hedge>/);
      typeLine(pty, `register ${user}`);
      await screen.expect(/password:/);
      typeLine(pty, 'Hidden-Pass-93');
      await screen.expect(new RegExp(`registered ${user} and logged in`));
      typeLine(pty, 'deposit 10000');
      await screen.expect(/cash 10000\.00/);

      // The ticker changes on a tick.
      const first = await priceOf(screen, 'ABC');
      await screen.expect(new RegExp(`ABC (?!${first.replace('.', '\\.')} )\\d+\\.\\d\\d `), 60_000);

      typeLine(pty, 'buy ABC 10');
      const asked = await screen.expect(/buy 10 ABC at (\d+\.\d\d) = (\d+\.\d\d), cash after (\d+\.\d\d)/);
      expect(BigInt(asked[2]!.replace('.', ''))).toBe(BigInt(asked[1]!.replace('.', '')) * 10n);
      await screen.expect(/send\? \[y\/N\]/);
      typeLine(pty, 'y');
      await screen.expect(/bought 10 ABC at/);
      // The order's replicated call: which replica answered, copies, fail-overs, latency.
      await screen.expect(/buy 10 ABC\s+ok\s+r\d\s+\d+\s+\d+\s+\d+\.\dms/);
      const position = /ABC\s+10\s+(\d+\.\d\d)\s+(\d+\.\d\d)\s+([+-]?\d+\.\d\d)/;
      const [, , value] = await screen.expect(position);
      // The next tick moves the position's value and its unrealised P&L.
      await screen.expect(
        new RegExp(
          `ABC\\s+10\\s+\\d+\\.\\d\\d\\s+(?!${value!.replace('.', '\\.')}\\s)\\d+\\.\\d\\d\\s+[+-]?\\d+\\.\\d\\d`,
        ),
        60_000,
      );
      if (CAPTURE) writeFileSync(CAPTURE, `${await screen.text()}\n`);
      typeLine(pty, 'quit');
      expect(await pty.exited).toBe(0);
      // Typed once, at a hidden prompt: never shown.
      expect(pty.output).not.toContain('Hidden-Pass-93');
    } finally {
      pty.kill();
    }
  });
});
