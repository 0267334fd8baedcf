import { status } from '@grpc/grpc-js';
import { ReplicatedCallError } from '../client/replicated-client.js';
import { type ArgSpec, type CommandSpec, parseArgs, UsageError, usageOf } from './command-args.js';

/** A question abandoned with Ctrl-C (a password, a confirmation): the command stops, nothing more is sent. */
export class Cancelled extends Error {}

/** A command that failed, and what the person at the terminal reads about it (nothing: they cancelled it). */
export interface CommandFailure {
  error: unknown;
  message: string | undefined;
}

/**
 * Runs a command of either front-end's table on the words typed after its name,
 * its arguments checked first (a refused line sends nothing). Its failure is
 * returned, never thrown; undefined when it succeeded.
 */
export async function runCommand(
  name: string,
  spec: CommandSpec,
  words: string[],
): Promise<CommandFailure | undefined> {
  try {
    await spec.run(parseArgs(spec, words));
    return undefined;
  } catch (error) {
    return { error, message: error instanceof Cancelled ? undefined : failureMessage(error, name, spec) };
  }
}

/** A refused line with the command's usage, a refused call with its status and reason. */
function failureMessage(e: unknown, name: string, spec: ArgSpec): string {
  if (e instanceof UsageError) return `error: ${e.message}\nusage: ${usageOf(name.toLowerCase(), spec)}`;
  if (e instanceof ReplicatedCallError)
    return `error: ${status[e.code]}${e.reason ? ` ${e.reason}` : ''}: ${e.details}`;
  return `error: ${(e as Error).message}`;
}
