import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readJsonFile } from '../common/json-file.js';

export interface RegistryEntry {
  id: string;
  /** A warm spare, adopted as one. */
  spare?: boolean;
  pid: number;
  address: string;
  /** The host it runs on, when the manager has agents on several. */
  host?: string;
  startedAtMs: number;
  restarts: number;
  lastFault?: { what: string; cause: string; atMs: number };
}

/** What a restarted manager needs to adopt the replicas still running, and to keep view numbers rising. */
export interface Registry {
  view: number;
  replicas: RegistryEntry[];
}

export function registryPath(dataDir: string): string {
  return join(dataDir, 'manager', 'registry.json');
}

export function readRegistry(path: string): Registry | undefined {
  const parsed = readJsonFile(path) as Partial<Registry> | null | undefined;
  return Array.isArray(parsed?.replicas) && typeof parsed?.view === 'number'
    ? (parsed as Registry)
    : undefined;
}

/** Write-then-rename, so a manager killed mid-write leaves the previous registry intact. */
export function writeRegistry(path: string, registry: Registry): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, JSON.stringify(registry, null, 2));
  renameSync(`${path}.tmp`, path);
}
