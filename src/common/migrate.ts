import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADVISORY_LOCKS } from './advisory-locks.js';
import type { Pool } from './database.js';
import { MIGRATIONS_DIR } from './paths.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f, sql: readFileSync(join(dir, f), 'utf8') }));
}

function checksum(sql: string): string {
  return createHash('sha256').update(sql, 'utf8').digest('hex');
}

/**
 * Applies the migrations the database lacks, each in its own transaction, under
 * an advisory lock: replicas start together and exactly one of them migrates while
 * the others wait and then find nothing to do. Returns the versions applied.
 * Each applied migration's checksum is kept: a database whose applied migrations
 * differ from this hedge's files is refused, rather than run with stale functions.
 */
export async function migrate(pool: Pool, migrations = listMigrations()): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.migration]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),
      checksum text)`);
    const done = new Map(
      (
        await client.query<{ version: number; name: string; checksum: string | null }>(
          'SELECT version, name, checksum FROM schema_migrations',
        )
      ).rows.map((r) => [r.version, r]),
    );
    for (const m of migrations) {
      const previous = done.get(m.version);
      if (previous && previous.checksum !== checksum(m.sql)) {
        throw new Error(
          `this database applied a different ${previous.name} than this hedge has (made by another version ` +
            'of hedge during its development); hedge cannot upgrade it: use a new database ' +
            '(for `hedge up`, remove the data directory)',
        );
      }
      if (previous) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          checksum(m.sql),
        ]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`);
      }
      applied.push(m.version);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.migration]).catch(() => {});
    client.release();
  }
  return applied;
}
