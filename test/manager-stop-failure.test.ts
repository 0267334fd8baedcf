import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnHedge } from '../src/common/hedge-process.js';
import { registryPath } from '../src/replication-manager/registry.js';
import { managerArgs } from './support/cluster.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { startTestFeed, type TestFeed } from './support/feed.js';

let db: TestDatabase;
let feed: TestFeed;
beforeAll(async () => {
  db = await createTestDatabase();
  feed = await startTestFeed();
});
afterAll(async () => {
  await feed?.stop();
  await db?.drop();
});

it('a manager whose stop fails (its registry cannot be written) exits 1 and says why in its log', async () => {
  const logPath = join(feed.dataDir, 'manager-output.log');
  const out = openSync(logPath, 'w');
  const spawned = spawnHedge(
    [
      ...managerArgs({ dataDir: feed.dataDir, port: 0, feed: feed.address }),
      '--owner-pid',
      String(process.pid),
    ],
    { lifeline: true, output: out, env: { DATABASE_URL: db.url } },
  );
  closeSync(out);
  try {
    await spawned.ready;
    // A directory where the registry goes: its final rename fails (EISDIR), as a full or
    // read-only disk would make it fail.
    const registry = registryPath(feed.dataDir);
    rmSync(registry, { force: true });
    mkdirSync(registry);
    const exited = new Promise<number | null>((resolve) =>
      spawned.child.once('exit', (code) => resolve(code)),
    );
    spawned.child.kill('SIGINT');
    expect(await exited).toBe(1);
    const log = readFileSync(logPath, 'utf8');
    expect(log).toContain('stopping the manager failed');
    expect(log).toContain('EISDIR');
  } finally {
    if (spawned.child.exitCode === null) spawned.child.kill('SIGKILL');
  }
}, 90_000);
