import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createPool, type Pool, withDatabase } from '../src/common/database.js';
import {
  listFunctionFiles,
  listMigrations,
  type Migration,
  migrate,
  SUPERSEDED_CHECKSUMS,
} from '../src/common/migrate.js';

/** hedge 0.1.0's migrations, functions and all, as a data directory made by it has them (gzipped: see its README). */
const RELEASED_MIGRATIONS = new URL('./fixtures/migrations-0.1.0/', import.meta.url).pathname;

/** The released files, byte for byte as hedge 0.1.0 shipped them. */
function releasedMigrations(): Migration[] {
  return readdirSync(RELEASED_MIGRATIONS)
    .filter((f) => f.endsWith('.sql.gz'))
    .sort()
    .map((f) => ({
      version: Number(f.slice(0, 3)),
      name: f.slice(0, -'.gz'.length),
      sql: gunzipSync(readFileSync(join(RELEASED_MIGRATIONS, f))).toString('utf8'),
    }));
}

function checksum(sql: string): string {
  return createHash('sha256').update(sql, 'utf8').digest('hex');
}

describe('migrations', () => {
  const prefix = `migrate_${randomBytes(4).toString('hex')}`;
  const names: string[] = [];
  const pools: Pool[] = [];
  const admin = createPool(withDatabase(inject('pgServerUrl'), 'postgres'), { max: 1 });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    for (const name of names) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  async function newDatabase(suffix: string, count = 1): Promise<Pool[]> {
    const name = `${prefix}_${suffix}`;
    names.push(name);
    await admin.query(`CREATE DATABASE ${name}`);
    const made = Array.from({ length: count }, () =>
      createPool(withDatabase(inject('pgServerUrl'), name), { max: 1 }),
    );
    pools.push(...made);
    return made;
  }

  /** Every function of the schema with its definition, and every column of its tables and types. */
  async function shape(pool: Pool): Promise<{ functions: string[]; columns: string[] }> {
    const functions = await pool.query<{ f: string }>(
      `SELECT p.oid::regprocedure::text || E'\n' || pg_get_functiondef(p.oid) AS f FROM pg_proc p
       WHERE p.pronamespace = current_schema()::regnamespace ORDER BY 1`,
    );
    const columns = await pool.query<{ c: string }>(
      `SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) AS c
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       WHERE c.relnamespace = current_schema()::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
         AND c.relname NOT IN ('schema_migrations', 'schema_functions')
       ORDER BY 1`,
    );
    return { functions: functions.rows.map((r) => r.f), columns: columns.rows.map((r) => r.c) };
  }

  it('are versioned, and applied once when several replicas start together', async () => {
    const versions = listMigrations().map((m) => m.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);

    const replicas = await newDatabase('fresh', 4);
    const results = await Promise.all(replicas.map((p) => migrate(p)));
    expect(results.filter((r) => r.applied.length > 0).map((r) => r.applied)).toEqual([versions]);
    expect(results.filter((r) => r.functionsApplied)).toHaveLength(1);
    const [first, second] = replicas as [Pool, Pool];
    const { rows } = await first.query('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(versions);
    expect(await migrate(second)).toEqual({ applied: [], functionsApplied: false });

    // A database made with other migration files is refused, not run with stale functions.
    const changed = listMigrations().map((m, i) => (i === 1 ? { ...m, sql: `${m.sql}\n-- edited` } : m));
    await expect(migrate(second, changed)).rejects.toThrow(
      /applied a different 002_execution\.sql than this hedge has/,
    );
  });

  it("accept a database made by hedge 0.1.0's migration files, which ends with the functions of a new one", async () => {
    // What hedge 0.1.0's migrate() did: each file in a transaction, recorded with its checksum.
    const [old] = (await newDatabase('released')) as [Pool];
    await old.query(`CREATE TABLE schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),
      checksum text)`);
    const released = releasedMigrations();
    expect(released.map((m) => m.name)).toEqual([
      '001_schema.sql',
      '002_execution.sql',
      '003_day_trading.sql',
      '004_trigger_isolation.sql',
    ]);
    // They are the released bytes: 001 is unchanged since, the others are what migrate() knows it superseded.
    const current = new Map(listMigrations().map((m) => [m.name, checksum(m.sql)]));
    for (const m of released) {
      expect([current.get(m.name), ...(SUPERSEDED_CHECKSUMS[m.name] ?? [])], m.name).toContain(
        checksum(m.sql),
      );
    }
    for (const m of released) {
      await old.query('BEGIN');
      await old.query(m.sql);
      await old.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        checksum(m.sql),
      ]);
      await old.query('COMMIT');
    }

    const releasedVersions = new Set(released.map((m) => m.version));
    const result = await migrate(old);
    expect(result).toEqual({
      applied: listMigrations()
        .map((m) => m.version)
        .filter((v) => !releasedVersions.has(v)),
      functionsApplied: true,
    });
    // Its records are now this hedge's files, so it migrates as a new one does.
    expect(await migrate(old)).toEqual({ applied: [], functionsApplied: false });

    const [fresh] = (await newDatabase('reference')) as [Pool];
    await migrate(fresh);
    expect(await shape(old)).toEqual(await shape(fresh));
  });

  it('refuse a database a newer hedge migrated, and leave its functions alone', async () => {
    const [db] = (await newDatabase('newer')) as [Pool];
    await migrate(db);
    await db.query(
      "INSERT INTO schema_migrations (version, name, checksum) VALUES (999, '999_future.sql', 'x')",
    );
    await db.query("UPDATE schema_functions SET checksum = 'a newer set'");
    await expect(migrate(db)).rejects.toThrow(/does not know \(999_future\.sql\)/);
    const { rows } = await db.query<{ checksum: string }>('SELECT checksum FROM schema_functions');
    expect(rows[0]?.checksum).toBe('a newer set');
  });

  it('drop a function whose arguments or return type changed when the function set is applied again', async () => {
    const [db] = (await newDatabase('signature')) as [Pool];
    const set = listFunctionFiles();
    const probe = (sql: string) => [...set, { name: 'probe.sql', sql }];
    await migrate(
      db,
      undefined,
      probe(`CREATE OR REPLACE FUNCTION hedge_probe(a integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT a $$;
             CREATE OR REPLACE FUNCTION hedge_kind(a integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT a $$;`),
    );
    expect((await db.query('SELECT hedge_probe(2) AS v, hedge_kind(3) AS k')).rows[0]).toEqual({
      v: 2,
      k: 3,
    });

    const changed = probe(
      `CREATE OR REPLACE FUNCTION hedge_probe(a integer, b integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;
       CREATE OR REPLACE FUNCTION hedge_kind(a integer) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'k' || a $$;`,
    );
    expect(await migrate(db, undefined, changed)).toEqual({ applied: [], functionsApplied: true });
    expect((await db.query('SELECT hedge_probe(2, 5) AS v, hedge_kind(3) AS k')).rows[0]).toEqual({
      v: 7,
      k: 'k3',
    });
    const { rows } = await db.query<{ f: string }>(
      "SELECT oid::regprocedure::text AS f FROM pg_proc WHERE proname IN ('hedge_probe', 'hedge_kind') ORDER BY 1",
    );
    expect(rows.map((r) => r.f)).toEqual(['hedge_kind(integer)', 'hedge_probe(integer,integer)']);
    expect(await migrate(db, undefined, changed)).toEqual({ applied: [], functionsApplied: false });

    // Back to hedge's own set: the probes are gone, and the operations work.
    expect(await migrate(db)).toEqual({ applied: [], functionsApplied: true });
    const left = await db.query("SELECT 1 FROM pg_proc WHERE proname IN ('hedge_probe', 'hedge_kind')");
    expect(left.rowCount).toBe(0);
    expect((await db.query('SELECT money_text(12345) AS m')).rows[0]).toEqual({ m: '123.45' });
  });
});
