import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { commandLine, isAlive } from './process-state.js';
import { readRunFile } from './run-files.js';

export interface FeedTarget {
  name: string;
  pid: number;
  address: string;
}

/** The run files feeds write: <data-dir>/run/feed.json, feed-2.json, … (`hedge feed --name`). */
const FEED_RUN_FILE = /^(feed(?:-[1-9][0-9]*)?)\.json$/;

/**
 * The feeds of a data directory that are running: each one's run file names a
 * live `hedge feed` process (checked in /proc, so a recycled pid is never
 * signalled), in name order.
 */
export function liveFeeds(dataDir: string): FeedTarget[] {
  let files: string[];
  try {
    files = readdirSync(join(dataDir, 'run'));
  } catch {
    return [];
  }
  const feeds: FeedTarget[] = [];
  for (const file of files.sort()) {
    const name = FEED_RUN_FILE.exec(file)?.[1];
    if (!name) continue;
    const run = readRunFile<{ pid?: unknown; address?: unknown }>(dataDir, name);
    const pid = typeof run?.pid === 'number' ? run.pid : 0;
    const argv = pid > 0 && isAlive(pid) ? commandLine(pid) : [];
    if (argv.some((a) => a.endsWith('cli.js')) && argv.includes('feed')) {
      feeds.push({ name, pid, address: String(run?.address ?? '') });
    }
  }
  return feeds;
}
