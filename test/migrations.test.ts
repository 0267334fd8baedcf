import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createPool, type Pool, withDatabase } from '../src/common/database.js';
import { listMigrations, migrate } from '../src/common/migrate.js';

describe('migrations', () => {
  const name = `migrate_${randomBytes(4).toString('hex')}`;
  const admin = createPool(withDatabase(inject('pgServerUrl'), 'postgres'), { max: 1 });
  afterAll(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  it('are versioned, and applied once when several replicas start together', async () => {
    const versions = listMigrations().map((m) => m.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);

    await admin.query(`CREATE DATABASE ${name}`);
    const pools = Array.from({ length: 4 }, () =>
      createPool(withDatabase(inject('pgServerUrl'), name), { max: 1 }),
    );
    try {
      const applied = await Promise.all(pools.map((p) => migrate(p)));
      expect(applied.filter((a) => a.length > 0)).toEqual([versions]);
      const [first, second] = pools;
      const { rows } = await (first as Pool).query('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(versions);
      expect(await migrate(second as Pool)).toEqual([]);

      // A database made with other migration files is refused, not run with stale functions.
      const changed = listMigrations().map((m, i) => (i === 1 ? { ...m, sql: `${m.sql}\n-- edited` } : m));
      await expect(migrate(second as Pool, changed)).rejects.toThrow(
        /applied a different 002_execution\.sql than this hedge has/,
      );
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });
});
