import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { readJsonFile } from './json-file.js';
import { isAlive } from './process-state.js';

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
  return readJsonFile(join(dataDir, 'run', `${name}.json`)) as T | undefined;
}

/** Removes the file if it is still this process's. */
export function removeRunFile(dataDir: string, name: string): void {
  if (readRunFile(dataDir, name)?.pid === process.pid)
    rmSync(join(dataDir, 'run', `${name}.json`), { force: true });
}

/** The host and port a run file's value names: "host:port", "[::1]:port" or a PostgreSQL URL. */
function endpointOf(value: string): { host: string; port: number } | undefined {
  if (value.includes('://')) {
    try {
      const url = new URL(value);
      if (!url.hostname) return undefined;
      return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 5432) };
    } catch {
      return undefined;
    }
  }
  const colon = value.lastIndexOf(':');
  const port = Number(value.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port)) return undefined;
  return { host: value.slice(0, colon).replace(/^\[|\]$/g, ''), port };
}

/** Whether nothing listens at the endpoint any more (the connection is refused). */
function refused(endpoint: { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(endpoint);
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    // Anything but a refusal (a slow or filtered host) is left to the caller's own deadline.
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(false));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'));
  });
}

/**
 * The value a running system's run file holds, if the process that wrote it is
 * alive and its address still takes connections (a system stopped by a signal
 * leaves its run files behind); `stale` says a file was there but is not.
 */
export async function liveRunFileValue(
  dataDir: string,
  name: string,
  key: string,
): Promise<{ value?: string; stale: boolean }> {
  const file = readRunFile(dataDir, name);
  const value = file?.[key];
  if (typeof value === 'string' && value.length > 0) {
    // A list ("a:1,b:2", the feeds) is stale only when none of them takes connections.
    const endpoints = value.split(',').map(endpointOf);
    const stale =
      (typeof file?.pid === 'number' && !isAlive(file.pid)) ||
      (endpoints.every((e) => e !== undefined) &&
        (await Promise.all(endpoints.map((e) => refused(e as { host: string; port: number })))).every(
          Boolean,
        ));
    if (!stale) return { value, stale: false };
  }
  return { stale: file !== undefined };
}
