import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createPool, type Pool, withDatabase } from '../../src/common/database.js';
import { blockResource } from './block-resource.js';

export const TEMPLATE_DATABASE = 'hedge_template';

export interface TestDatabase {
  url: string;
  /** A small pool for the test's own queries. */
  pool: Pool;
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own, cloned from the run's template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = inject('pgServerUrl');
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = createPool(withDatabase(serverUrl, 'postgres'), { max: 1 });
  await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`);
  const url = withDatabase(serverUrl, name);
  const pool = createPool(url, { max: 4, applicationName: 'hedge-test' });
  return {
    url,
    pool,
    drop: async () => {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** A test database for the enclosing describe block, dropped after its tests. */
export const useTestDatabase = (): TestDatabase => blockResource(createTestDatabase, (db) => db.drop());
