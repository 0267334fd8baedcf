import { describe, expect, it } from 'vitest';
import { withoutPassword } from '../../src/trade/command-args.js';
import { OrderLine } from '../../src/trade/order-line.js';

const COMMANDS = ['buy', 'balance', 'commit_buy', 'commit_sell', 'quote'];
const SYMBOLS = ['ABC', 'ABD', 'DEF'];
const candidates = (index: number) => (index === 0 ? COMMANDS : SYMBOLS);

describe('the order line', () => {
  it('completes a unique word with a space, several to what they share, and says which', () => {
    const line = new OrderLine();
    line.insert('qu');
    expect(line.complete(candidates)).toEqual(['quote']);
    expect(line.text).toBe('quote ');
    line.insert('a');
    expect(line.complete(candidates)).toEqual(['ABC', 'ABD']);
    expect(line.text).toBe('quote AB');
    line.insert('d');
    line.complete(candidates);
    expect(line.text).toBe('quote ABD ');
    const other = new OrderLine();
    other.insert('commit');
    expect(other.complete(candidates)).toEqual(['commit_buy', 'commit_sell']);
    expect(other.text).toBe('commit_');
    expect(other.complete(() => [])).toEqual([]);
  });

  it('recalls the history with Up and Down, and Down past the newest gives back the draft', () => {
    const line = new OrderLine(['deposit 10', 'buy ABC 1']);
    line.insert('sel');
    line.recall(-1);
    expect(line.text).toBe('buy ABC 1');
    line.recall(-1);
    line.recall(-1);
    expect(line.text).toBe('deposit 10');
    line.recall(1);
    line.recall(1);
    expect(line.text).toBe('sel');
    expect(line.take()).toBe('sel');
    line.remember('sell ABC 1');
    line.recall(-1);
    expect(line.text).toBe('sell ABC 1');
  });

  it('edits at the cursor', () => {
    const line = new OrderLine();
    line.insert('buy AC 1');
    line.home();
    line.move(5);
    line.insert('B');
    line.end();
    line.backspace();
    line.insert('2');
    expect(line.text).toBe('buy ABC 2');
  });

  it('keeps no password a login or register line carried', () => {
    expect(withoutPassword('login alice s3cret')).toBe('login alice');
    expect(withoutPassword('register bob pw extra')).toBe('register bob');
    expect(withoutPassword('login alice')).toBe('login alice');
    expect(withoutPassword('buy ABC 10')).toBe('buy ABC 10');
  });
});
