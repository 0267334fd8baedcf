import type { ChildProcess } from 'node:child_process';
import { spawnHedge, stopChild } from '../../src/common/hedge-process.js';

export interface FeedProcess {
  name: string;
  address: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * A real `hedge feed` process named `name` on `dataDir` (its key pair under
 * <dataDir>/<name>/, its public key in <dataDir>/feed-keys/), tied to this
 * process by a lifeline.
 */
export async function spawnFeed(dataDir: string, name: string, args: string[]): Promise<FeedProcess> {
  const { child, ready } = spawnHedge(['feed', '--data-dir', dataDir, '--name', name, ...args], {
    lifeline: true,
  });
  const message = await ready;
  return { name, address: String(message.address), child, stop: () => stopChild(child) };
}
