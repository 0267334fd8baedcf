import { InvalidArgumentError, Option } from 'commander';
import { formatDuration, parseDuration } from './duration.js';

/** commander argument parsers shared by every subcommand. */

export function intOption(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    // Number() alone takes '', ' ', '1e3' and '0x10' as numbers; only plain digits are one here.
    const n = /^(0|[1-9][0-9]*)$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

export function durationOption(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** A duration where zero makes no sense (a measured time, an interval). */
export function positiveDurationOption(value: string): number {
  const ms = durationOption(value);
  if (ms <= 0) throw new InvalidArgumentError('expected a duration above zero, e.g. 250ms or 15s');
  return ms;
}

export function choiceOption<T extends string>(choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`expected one of ${choices.join(', ')}`);
    }
    return value as T;
  };
}

/** A comma-separated list, each item one of `choices`. */
export function choiceListOption<T extends string>(choices: readonly T[], what: string) {
  return (value: string): T[] => {
    const items = listOption(value);
    if (items.length === 0) throw new InvalidArgumentError(`expected at least one ${what}`);
    for (const item of items) {
      if (!(choices as readonly string[]).includes(item)) {
        throw new InvalidArgumentError(`unknown ${what} ${item}; expected ${choices.join(', ')}`);
      }
    }
    return items as T[];
  };
}

/** A comma-separated list of whole numbers, each from `min` to `max`, at least one. */
export function intListOption(min: number, max = Number.MAX_SAFE_INTEGER) {
  const item = intOption(min, max);
  return (value: string): number[] => {
    const items = listOption(value);
    if (items.length === 0) throw new InvalidArgumentError('expected at least one number');
    return items.map(item);
  };
}

export function listOption(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Repeatable option: collects every occurrence. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The heartbeat options a command passes on to the managers it starts, with their unit. */
export function heartbeatArgs(opts: { heartbeatInterval?: number; heartbeatTimeout?: number }): string[] {
  return [
    ...(opts.heartbeatInterval ? ['--heartbeat-interval', formatDuration(opts.heartbeatInterval)] : []),
    ...(opts.heartbeatTimeout ? ['--heartbeat-timeout', formatDuration(opts.heartbeatTimeout)] : []),
  ];
}

/**
 * An option whose default is written as a person types it ("5s", "crash,hang")
 * and parsed like a value given on the command line: the help shows the text,
 * the program gets the value.
 */
export function defaulted<T>(
  flags: string,
  description: string,
  parse: (value: string) => T,
  text: string,
): Option {
  return new Option(flags, description).argParser(parse).default(parse(text), text);
}

/** A command's examples, for the end of its help. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}
