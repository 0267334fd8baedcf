import type { ProcessGroup } from '../common/process-group.js';

export interface BenchManagerOptions {
  /** The process's name in the group, and its log file's. */
  name: string;
  dataDir: string;
  databaseUrl: string;
  replicas: number;
  minimum: number;
  args?: string[];
  /** Beside the database URL (a TLS directory of its own, on a simulated host's network). */
  env?: NodeJS.ProcessEnv;
}

/** A replication manager for one benchmark configuration; its address. The database URL goes by environment. */
export async function startBenchManager(group: ProcessGroup, o: BenchManagerOptions): Promise<string> {
  const ready = await group.start(
    o.name,
    [
      'manager',
      '--data-dir',
      o.dataDir,
      '--replicas',
      String(o.replicas),
      '--min',
      String(o.minimum),
      ...(o.args ?? []),
    ],
    { ...o.env, DATABASE_URL: o.databaseUrl },
  );
  return String(ready.address);
}
