import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * <data-dir>/run/<name>.json: where a running hedge process can be reached (the
 * database URL, the feed's and the manager's addresses), so that `hedge status`,
 * `hedge trade`, `hedge verify` and the others find a running system without flags.
 * Written atomically with mode 0600 (the database URL carries its password).
 */
export function writeRunFile(dataDir: string, name: string, data: Record<string, unknown>): void {
  const dir = join(dataDir, 'run');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  writeFileSync(`${path}.tmp`, JSON.stringify({ ...data, pid: process.pid }), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

export function readRunFile<T extends Record<string, unknown>>(dataDir: string, name: string): T | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, 'run', `${name}.json`), 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Removes the file if it is still this process's. */
export function removeRunFile(dataDir: string, name: string): void {
  if (readRunFile(dataDir, name)?.pid === process.pid)
    rmSync(join(dataDir, 'run', `${name}.json`), { force: true });
}

/** A string the running system's run file holds, if any. */
export function runFileValue(dataDir: string, name: string, key: string): string | undefined {
  const value = readRunFile(dataDir, name)?.[key];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** An explicit option wins; then the running system's run file; else a clear error. */
export function locate(
  explicit: string | undefined,
  dataDir: string,
  name: string,
  key: string,
  flag: string,
): string {
  const value = explicit || runFileValue(dataDir, name, key);
  if (value) return value;
  throw new Error(
    `no ${name} found: pass ${flag}, or start the system with \`hedge up\` (data directory ${dataDir})`,
  );
}
