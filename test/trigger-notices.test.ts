import { afterEach, describe, expect, it } from 'vitest';
import { TriggerNotices } from '../src/replica/trigger-notices.js';
import { useTestDatabase } from './support/database.js';
import { waitFor } from './support/wait.js';

describe('trigger notices: a replica hears the triggers table change instead of polling it at rest', () => {
  const db = useTestDatabase();
  let notices: TriggerNotices | undefined;
  afterEach(async () => {
    await notices?.stop();
    notices = undefined;
  });

  /** A statement on the triggers table that changes no row: the statement-level trigger notifies all the same. */
  const touchTriggers = () => db.pool.query("UPDATE triggers SET state = 'armed' WHERE false");

  it('tells on listening, on every committed change, and not for a change rolled back', async () => {
    let changes = 0;
    notices = new TriggerNotices(db.url, 'hedge-test-notices', () => changes++).start();
    await waitFor('listening', () => notices?.listening === true);
    expect(changes).toBe(1);
    await touchTriggers();
    await waitFor('the change heard', () => changes === 2);
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query("UPDATE triggers SET state = 'armed' WHERE false");
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    await touchTriggers();
    await waitFor('the next committed change heard', () => changes >= 3);
    expect(changes).toBe(3);
  });

  it('a connection killed under it: tells at once, listens again, tells again, and hears the next change', async () => {
    let changes = 0;
    notices = new TriggerNotices(db.url, 'hedge-test-notices-kill', () => changes++).start();
    await waitFor('listening', () => notices?.listening === true);
    const { rows } = await db.pool.query<{ killed: boolean }>(
      "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = 'hedge-test-notices-kill'",
    );
    expect(rows).toEqual([{ killed: true }]);
    // Told when it stopped hearing (the watcher reads and polls) and when it listens again.
    await waitFor('listening again', () => changes >= 3 && notices?.listening === true, 30_000);
    const before = changes;
    await touchTriggers();
    await waitFor('a change after the reconnection heard', () => changes === before + 1);
  });
});
