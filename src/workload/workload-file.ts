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

/** Parses a workload file; a malformed line is an error naming it. Trailing spaces and CRs are trimmed. */
export function parseWorkload(text: string): WorkloadLine[] {
  const lines: WorkloadLine[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '') return;
    const match = LINE.exec(line);
    if (!match || !KNOWN.has(match[2] ?? '')) {
      throw new Error(`line ${index + 1} is not a workload command: ${JSON.stringify(line.slice(0, 80))}`);
    }
    lines.push({
      num: Number(match[1]),
      command: match[2] as WorkloadCommand,
      args: (match[3] ?? '').split(',').map((a) => a.trim()),
    });
  });
  return lines;
}

/**
 * A DUMPLOG with only a filename is the administrator's, of the whole log, and
 * runs after everything else; every other line belongs to the user it names
 * first, and a user's lines run in file order.
 */
export function isWholeLogDump(line: WorkloadLine): boolean {
  return line.command === 'DUMPLOG' && line.args.length === 1;
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
