import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { withoutPassword } from './command-args.js';

/** Lines kept from earlier sessions (the file itself is only appended to). */
const KEPT = 500;

/**
 * The lines a person typed, across sessions: <data-dir>/trade-history, oldest
 * first, one per line. A password never gets here: a line carrying one is
 * written without it, and what is typed at a password prompt is not a line.
 */
export class HistoryFile {
  readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'trade-history');
  }

  load(): string[] {
    try {
      return readFileSync(this.path, 'utf8').split('\n').filter(Boolean).slice(-KEPT);
    } catch {
      // No history yet (a first session), or none readable: start without.
      return [];
    }
  }

  /** Adds a line; returns it as kept (without a password). A history that cannot be written is not an error. */
  add(line: string): string {
    const kept = withoutPassword(line.trim());
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      appendFileSync(this.path, `${kept}\n`, { mode: 0o600 });
    } catch {
      // A read-only data directory loses the history, not the session.
    }
    return kept;
  }
}
