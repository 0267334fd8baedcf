import { join } from 'node:path';
import type { Logger } from '../common/logger.js';
import { ProcessGroup } from '../common/process-group.js';

export interface UpOptions {
  dataDir: string;
  /** Use this PostgreSQL server instead of starting the embedded one. */
  databaseUrl?: string;
  feedPort: number;
  feedArgs: string[];
  replicaPort: number;
}

export interface RunningSystem {
  databaseUrl: string;
  feedAddress: string;
  replicaAddress: string;
  logDir: string;
  /** Resolves with a description when a process of the system dies on its own. */
  failed: Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts the system as child processes of this one (see ProcessGroup: none of
 * them outlives it). Their logs go to <data-dir>/logs/.
 */
export async function runUp(options: UpOptions, log: Logger): Promise<RunningSystem> {
  const group = new ProcessGroup(join(options.dataDir, 'logs'));
  const failed = new Promise<string>((resolve) => group.onUnexpectedExit(resolve));
  const start = async (name: string, args: string[]) => {
    const ready = await group.start(name, args);
    log.info({ process: name, childPid: ready.pid, address: ready.address }, `${name} is up`);
    return ready;
  };
  try {
    const dataDirArgs = ['--data-dir', options.dataDir];
    const databaseUrl =
      options.databaseUrl ?? String((await start('db', ['db', ...dataDirArgs])).databaseUrl);
    const feed = await start('feed', [
      'feed',
      ...dataDirArgs,
      '--port',
      String(options.feedPort),
      ...options.feedArgs,
    ]);
    const replica = await start('replica', [
      'replica',
      ...dataDirArgs,
      '--id',
      'r1',
      '--database-url',
      databaseUrl,
      '--port',
      String(options.replicaPort),
    ]);
    return {
      databaseUrl,
      feedAddress: String(feed.address),
      replicaAddress: String(replica.address),
      logDir: group.logDir,
      failed,
      stop: () => group.stop(),
    };
  } catch (err) {
    await group.stop();
    throw err;
  }
}
