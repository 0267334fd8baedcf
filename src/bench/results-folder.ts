import { readdirSync } from 'node:fs';

/**
 * Refuses, before anything starts, a results folder that already holds files
 * (an earlier run's results would be overwritten or mixed in) unless `force`.
 * A folder that does not exist yet is fine: the run makes it.
 */
export function checkResultsFolder(outDir: string, force: boolean): void {
  if (force) return;
  let entries: string[];
  try {
    entries = readdirSync(outDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new Error(`--out ${outDir}: ${(err as Error).message}`);
  }
  if (entries.length > 0) {
    throw new Error(
      `--out ${outDir} is not empty (an earlier run's results?); choose another --out, or pass --force to overwrite`,
    );
  }
}
