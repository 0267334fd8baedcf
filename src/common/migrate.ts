import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADVISORY_LOCKS } from './advisory-locks.js';
import type { Pool, PoolClient } from './database.js';
import { MIGRATIONS_DIR, SQL_DIR } from './paths.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** One file of the function set (sql/). */
export interface FunctionFile {
  name: string;
  sql: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f, sql: readFileSync(join(dir, f), 'utf8') }));
}

/**
 * The function set's files in the order they are applied: a LANGUAGE sql body is
 * checked when it is created, so what it calls is created before it.
 */
export const SQL_FILES = [
  'vocabulary.sql',
  'audit.sql',
  'ledger.sql',
  'trading.sql',
  'day_trading.sql',
  'triggers.sql',
  'sign_in_throttle.sql',
  'execution.sql',
] as const;

/** The function set; a file in `dir` that SQL_FILES does not list is an error, not silently left out. */
export function listFunctionFiles(dir = SQL_DIR): FunctionFile[] {
  const listed = new Set<string>(SQL_FILES);
  const unlisted = readdirSync(dir).filter((f) => f.endsWith('.sql') && !listed.has(f));
  if (unlisted.length > 0)
    throw new Error(`${dir} has SQL files SQL_FILES does not list: ${unlisted.join(', ')}`);
  return SQL_FILES.map((name) => ({ name, sql: readFileSync(join(dir, name), 'utf8') }));
}

function checksum(sql: string): string {
  return createHash('sha256').update(sql, 'utf8').digest('hex');
}

/** One checksum of the whole set: its files' names and contents, in order. */
export function functionSetChecksum(files: FunctionFile[]): string {
  return checksum(files.map((f) => `${f.name}\n${checksum(f.sql)}\n`).join(''));
}

/**
 * Migrations rewritten when the functions moved to sql/, and the checksum each
 * had before (hedge 0.1.0 as of the merge of issue 9). The old files made the same
 * tables and types as the new ones; their functions are dropped and replaced
 * by the function set. A database that applied one of these is accepted, and
 * its recorded checksum brought up to date.
 */
export const SUPERSEDED_CHECKSUMS: Readonly<Record<string, readonly string[]>> = {
  '002_execution.sql': ['5855fbecfa6635b9d7d61aad17486c431feeb85464e1e335c5270d2fe909b1f9'],
  '003_day_trading.sql': ['8e65706da647f96e779722737a6c3fc9fbd05771a5494476d0ba77765921553d'],
  '004_trigger_isolation.sql': ['94e743e234031dc72539ee2cd634434bb121782bd3f0e4f54f6af5fa293c5b05'],
};

export interface MigrateResult {
  /** The migration versions applied. */
  applied: number[];
  /** Whether the function set was (re)applied: it was new or had changed. */
  functionsApplied: boolean;
}

/**
 * Applies the migrations the database lacks, each in its own transaction, then
 * the function set if it changed, all under an advisory lock: replicas start
 * together and exactly one of them migrates while the others wait and then find
 * nothing to do. Each applied migration's checksum is kept: a database whose
 * applied migrations differ from this hedge's files is refused, rather than run
 * with stale functions.
 */
export async function migrate(
  pool: Pool,
  migrations = listMigrations(),
  functions = listFunctionFiles(),
): Promise<MigrateResult> {
  const client = await pool.connect();
  const applied: number[] = [];
  let functionsApplied = false;
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
    // A database a newer hedge migrated: this one's functions would replace that
    // one's under its replicas (the set is applied whenever its checksum differs).
    const known = new Set(migrations.map((m) => m.version));
    const unknown = [...done.values()].filter((r) => !known.has(r.version)).map((r) => r.name);
    if (unknown.length > 0) {
      throw new Error(
        `this database has migrations this hedge does not know (${unknown.join(', ')}): a newer hedge made it; ` +
          'run that version, or use a new database',
      );
    }
    for (const m of migrations) {
      const previous = done.get(m.version);
      if (previous) {
        await acceptApplied(client, m, previous.name, previous.checksum);
        continue;
      }
      await inTransaction(client, `migration ${m.name}`, async () => {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          checksum(m.sql),
        ]);
      });
      applied.push(m.version);
    }
    functionsApplied = await applyFunctions(client, functions);
  } finally {
    const unlocked = await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.migration]).then(
      () => true,
      () => false,
    );
    // A session that may still hold the lock must not go back to the pool: every later migrate() would wait on it.
    client.release(!unlocked);
  }
  return { applied, functionsApplied };
}

/** An applied migration is this hedge's file, or the file it superseded (whose record is then updated). */
async function acceptApplied(
  client: PoolClient,
  m: Migration,
  appliedName: string,
  appliedChecksum: string | null,
): Promise<void> {
  const current = checksum(m.sql);
  if (appliedChecksum === current) return;
  if (appliedChecksum !== null && SUPERSEDED_CHECKSUMS[m.name]?.includes(appliedChecksum)) {
    await client.query('UPDATE schema_migrations SET checksum = $2 WHERE version = $1', [m.version, current]);
    return;
  }
  throw new Error(
    `this database applied a different ${appliedName} than this hedge has (made by another version ` +
      'of hedge during its development); hedge cannot upgrade it: use a new database ' +
      '(for `hedge up`, remove the data directory)',
  );
}

async function inTransaction(client: PoolClient, what: string, work: () => Promise<void>): Promise<void> {
  await client.query('BEGIN');
  try {
    await work();
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw new Error(`${what} failed: ${(err as Error).message}`);
  }
}

/**
 * Every function of hedge's schema, as DROP FUNCTION names them. Functions an
 * extension installed (pg_stat_statements' in public, say) are the extension's.
 */
const SCHEMA_FUNCTIONS = `SELECT p.oid::regprocedure::text AS signature
  FROM pg_proc p
  WHERE p.pronamespace = current_schema()::regnamespace AND p.prokind = 'f'
    AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')`;

/**
 * Applies the function set unless the database has this very set (one checksum
 * of it is kept in schema_functions), so replicas starting together pay for it
 * once. In one transaction, every function of the schema is dropped and the set
 * created again: CREATE OR REPLACE cannot change a function's arguments, return
 * type or parameter names, and a function left out of the set must not linger.
 * No default or constraint calls a hedge function, so the drops need no
 * CASCADE (and one that did would fail loudly here); a table trigger that calls
 * one is dropped first and made again by the set. Sessions of other replicas
 * see the old functions or the new ones, never none: the catalog is MVCC.
 */
async function applyFunctions(client: PoolClient, files: FunctionFile[]): Promise<boolean> {
  const sum = functionSetChecksum(files);
  await client.query(`CREATE TABLE IF NOT EXISTS schema_functions (
    one boolean PRIMARY KEY DEFAULT true CHECK (one), checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())`);
  const { rows } = await client.query<{ checksum: string }>('SELECT checksum FROM schema_functions');
  if (rows[0]?.checksum === sum) return false;
  await inTransaction(client, 'the SQL function set', async () => {
    const existing = await client.query<{ signature: string }>(SCHEMA_FUNCTIONS);
    // A table trigger calling one of them (sql/triggers.sql's notice) goes with it; the set makes it again.
    const tableTriggers = await client.query<{ name: string; relation: string }>(
      `SELECT quote_ident(t.tgname) AS name, t.tgrelid::regclass::text AS relation FROM pg_trigger t
        WHERE NOT t.tgisinternal AND t.tgfoid::regprocedure::text = ANY($1)`,
      [existing.rows.map((r) => r.signature)],
    );
    for (const t of tableTriggers.rows) await client.query(`DROP TRIGGER ${t.name} ON ${t.relation}`);
    for (const { signature } of existing.rows) await client.query(`DROP FUNCTION ${signature}`);
    for (const f of files) {
      try {
        await client.query(f.sql);
      } catch (err) {
        throw new Error(`sql/${f.name}: ${(err as Error).message}`);
      }
    }
    await client.query(
      `INSERT INTO schema_functions (checksum) VALUES ($1)
       ON CONFLICT (one) DO UPDATE SET checksum = excluded.checksum, applied_at = now()`,
      [sum],
    );
  });
  return true;
}
