import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TestProject } from 'vitest/node';
import { createPool, withDatabase } from '../../src/common/database.js';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../../src/common/embedded-postgres.js';
import { migrate } from '../../src/common/migrate.js';
import { makeTempDataDir } from '../../src/common/paths.js';
import { TEMPLATE_DATABASE } from './database.js';
import { makeTestTlsDir } from './tls.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** postgres://… of the test run's PostgreSQL server, without a database. */
    pgServerUrl: string;
    /** The test run's TLS directory: one CA for every process a test starts (see tls.ts). */
    tlsDir: string;
  }
}

/**
 * One real PostgreSQL server for the whole run, and a migrated template database
 * that every test file clones (CREATE DATABASE … TEMPLATE) for its own isolation.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = makeTempDataDir('hedge-test-pg-');
  let db: EmbeddedDatabase | undefined;
  try {
    db = await startEmbeddedPostgres(dir);
    const pool = createPool(withDatabase(db.serverUrl, 'postgres'));
    await pool.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE}`);
    await pool.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
    await pool.end();
    const template = createPool(withDatabase(db.serverUrl, TEMPLATE_DATABASE));
    await migrate(template);
    await template.end();
  } catch (err) {
    await db?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  project.provide('pgServerUrl', db.serverUrl);
  const tlsDir = makeTestTlsDir();
  project.provide('tlsDir', tlsDir);
  const started = db;
  return async () => {
    await started.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(dirname(tlsDir), { recursive: true, force: true });
  };
}
