import { readFileSync } from 'node:fs';

/** One line of a SEng 468 workload file: `[N] COMMAND,arg,arg…`. */
export interface WorkloadLine {
  /** The line's [N]: its transactionNum in the audit log. */
  num: number;
  command: WorkloadCommand;
  args: string[];
}

const LINE = /^\[(\d+)\]\s*([A-Z_]+)(?:,(.*))?$/;

export const COMMANDS = [
  'ADD',
  'QUOTE',
  'BUY',
  'COMMIT_BUY',
  'CANCEL_BUY',
  'SELL',
  'COMMIT_SELL',
  'CANCEL_SELL',
  'SET_BUY_AMOUNT',
  'SET_BUY_TRIGGER',
  'CANCEL_SET_BUY',
  'SET_SELL_AMOUNT',
  'SET_SELL_TRIGGER',
  'CANCEL_SET_SELL',
  'DISPLAY_SUMMARY',
  'DUMPLOG',
] as const;

export type WorkloadCommand = (typeof COMMANDS)[number];
const KNOWN = new Set<string>(COMMANDS);

/** A line that is no workload command: left out of the replay, and reported. */
export interface SkippedLine {
  /** Its line number in the file (from 1). */
  line: number;
  text: string;
}

export interface Workload {
  lines: WorkloadLine[];
  skipped: SkippedLine[];
}

/**
 * Parses a workload file. A line that is no workload command (an unknown
 * command, no [N]) is skipped and reported, not fatal: the rest of the file
 * still replays. Trailing spaces and CRs are trimmed.
 */
export function parseWorkload(text: string): Workload {
  const lines: WorkloadLine[] = [];
  const skipped: SkippedLine[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '') return;
    const match = LINE.exec(line);
    if (!match || !KNOWN.has(match[2] ?? '')) {
      skipped.push({ line: index + 1, text: line.slice(0, 80) });
      return;
    }
    lines.push({
      num: Number(match[1]),
      command: match[2] as WorkloadCommand,
      args: (match[3] ?? '').split(',').map((a) => a.trim()),
    });
  });
  return { lines, skipped };
}

/**
 * Reads and parses a workload file, refusing one with no workload command at
 * all: it is not a workload, and replaying it would do nothing and look like
 * success.
 */
export function readWorkload(file: string): Workload {
  let workload: Workload;
  try {
    workload = parseWorkload(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`the workload file ${file}: ${(err as Error).message}`);
  }
  if (workload.lines.length === 0) {
    throw new Error(
      `the workload file ${file} has no workload command ([N] COMMAND,args… per line) in its ` +
        `${workload.skipped.length} non-empty line${workload.skipped.length === 1 ? '' : 's'}`,
    );
  }
  return workload;
}

/**
 * A DUMPLOG with only a filename is the administrator's, of the whole log, and
 * runs after everything else; every other line belongs to the user it names
 * first, and a user's lines run in file order.
 */
export function isWholeLogDump(line: WorkloadLine): boolean {
  return line.command === 'DUMPLOG' && line.args.length === 1;
}

/** The file a DUMPLOG line names: its only argument, or the one after the user's name. */
export function dumpFilename(line: WorkloadLine): string {
  return (isWholeLogDump(line) ? line.args[0] : line.args[1]) ?? '';
}

export function byUser(lines: WorkloadLine[]): Map<string, WorkloadLine[]> {
  const users = new Map<string, WorkloadLine[]>();
  for (const line of lines) {
    if (isWholeLogDump(line)) continue;
    const user = line.args[0] ?? '';
    const list = users.get(user) ?? [];
    list.push(line);
    users.set(user, list);
  }
  return users;
}
