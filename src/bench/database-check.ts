/** What the database check after one benchmark run found. */
export interface CheckedRun {
  /** The run, as the report names it (e.g. `active · crash`). */
  run: string;
  /** Requests with more than one effect. */
  duplicates: number;
  /** Checks of `hedge verify` that failed. */
  violations: number;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * A benchmark's exit status: 1 if any run's database check found a duplicate
 * or a violation (a benchmark of a system that broke its guarantees is no
 * success, whatever its numbers), with one line for stderr per such run.
 */
export function databaseCheckOutcome(runs: readonly CheckedRun[]): { exitCode: 0 | 1; messages: string[] } {
  const messages = runs
    .filter((r) => r.duplicates > 0 || r.violations > 0)
    .map(
      (r) =>
        `the database check after ${r.run} failed: ${plural(r.duplicates, 'duplicated request')}, ` +
        `${plural(r.violations, 'violated check')}`,
    );
  return { exitCode: messages.length > 0 ? 1 : 0, messages };
}
