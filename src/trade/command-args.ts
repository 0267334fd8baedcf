import { isPositiveInteger, parseAmount, parseShares } from '../common/money.js';
import { isSymbol } from '../common/symbols.js';

/** A line the client refuses before sending anything: the message, then the command's usage. */
export class UsageError extends Error {}

/** One argument of a command: its name in the usage line, and its check (on the wire's grammar). */
export interface Arg {
  name: string;
  /** The argument as it is sent; throws on anything the wire would not take. */
  parse(text: string): string;
}

export const text = (name: string): Arg => ({ name, parse: (t) => t });
export const SYMBOL: Arg = {
  name: 'SYMBOL',
  parse: (t) => {
    const upper = t.toUpperCase();
    if (!isSymbol(upper)) {
      throw new UsageError(
        `symbol must be 1 to 8 letters or digits starting with a letter; got ${JSON.stringify(t)}`,
      );
    }
    return upper;
  },
};
export const SHARES: Arg = { name: 'shares', parse: (t) => String(parseShares(t)) };
/** Decimal dollars, named as the usage line shows them (an amount, a trigger price). */
export const dollars = (name = 'dollars'): Arg => ({
  name,
  parse: (t) => {
    parseAmount(t, name);
    return t;
  },
});
export const DOLLARS: Arg = dollars();
/** ListTrades' limit is an int32 on the wire; the server sets its own maximum. */
export const COUNT: Arg = {
  name: 'n',
  parse: (t) => {
    if (!isPositiveInteger(t) || Number(t) > 2 ** 31 - 1) {
      throw new UsageError(`n must be a whole number of at least 1; got ${JSON.stringify(t)}`);
    }
    return t;
  },
};

/** A command's arguments as declared: how many are required (default: all). */
export interface ArgSpec {
  args: Arg[];
  required?: number;
}

/** A command of a front-end's table: its arguments, its line in help, and what it does with them. */
export interface CommandSpec extends ArgSpec {
  describe: string;
  run(args: string[]): Promise<void>;
}

export function usageOf(name: string, spec: ArgSpec): string {
  const required = spec.required ?? spec.args.length;
  return [name, ...spec.args.map((a, i) => (i < required ? `<${a.name}>` : `[${a.name}]`))].join(' ');
}

/** Checks a line's arguments against the command's declaration; nothing is sent unless they all pass. */
export function parseArgs(spec: ArgSpec, words: string[]): string[] {
  if (words.length < (spec.required ?? spec.args.length) || words.length > spec.args.length) {
    throw new UsageError(
      `expected ${spec.required === undefined || spec.required === spec.args.length ? spec.args.length : `${spec.required} to ${spec.args.length}`} argument(s), got ${words.length}`,
    );
  }
  return words.map((word, i) => {
    try {
      return (spec.args[i] as Arg).parse(word);
    } catch (err) {
      throw err instanceof UsageError ? err : new UsageError((err as Error).message);
    }
  });
}

/** A line as typed with any password it carries left out: what a history may keep. */
export function withoutPassword(line: string): string {
  const [name = '', user, password] = line.trim().split(/\s+/);
  return password !== undefined && (name === 'login' || name === 'register') ? `${name} ${user}` : line;
}
