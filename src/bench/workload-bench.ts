import { join } from 'node:path';
import { ensureAdministrator } from '../common/admin.js';
import { createPool, withDatabase } from '../common/database.js';
import { inDataDir } from '../common/paths.js';
import { ProcessGroup } from '../common/process-group.js';
import { verifyDatabase } from '../common/verify-database.js';
import { type ReplaySummary, replayWorkload } from '../workload/replay.js';
import { readWorkload } from '../workload/workload-file.js';
import { startBenchManager } from './bench-manager.js';
import type { WorkloadBenchConfig } from './configurations.js';
import { describeMachine } from './machine.js';
import { checkResultsFolder } from './results-folder.js';

export interface WorkloadBenchRow extends ReplaySummary {
  config: string;
  replicas: number;
  duplicate_effects: number;
  violations: number;
}

/**
 * Replays one workload file under each configuration, each on a fresh database
 * of the same embedded server (durable commits, the full audit log), and checks
 * the database after each.
 */
export function runWorkloadBench(options: WorkloadBenchOptions) {
  // A file that is missing or holds no workload command stops the bench before anything starts.
  readWorkload(options.file);
  checkResultsFolder(options.outDir, options.force ?? false);
  return inDataDir('hedge-bench-workload-', undefined, (dataDir) => workloadBench(options, dataDir));
}

interface WorkloadBenchOptions {
  file: string;
  configs: WorkloadBenchConfig[];
  concurrency: number;
  outDir: string;
  /** Replace files in outDir (an earlier run's logs); without it the bench refuses to start. */
  force?: boolean;
  onProgress?: (line: string) => void;
}

async function workloadBench(options: WorkloadBenchOptions, dataDir: string) {
  const group = new ProcessGroup(join(dataDir, 'logs'));
  const rows: WorkloadBenchRow[] = [];
  try {
    const serverUrl = new URL(String((await group.start('db', ['db', '--data-dir', dataDir])).databaseUrl));
    const feed = String(
      (await group.start('feed', ['feed', '--data-dir', dataDir, '--any-symbol', '--seed', '1'])).address,
    );
    const admin = createPool(withDatabase(serverUrl.toString(), 'postgres'), { max: 1 });
    try {
      for (const config of options.configs) {
        const database = `workload_${config.name.replace(/\W/g, '_')}`;
        await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        await admin.query(`CREATE DATABASE ${database}`);
        const url = withDatabase(serverUrl.toString(), database);
        const name = `manager-${config.name}`;
        const manager = await startBenchManager(group, {
          name,
          dataDir,
          databaseUrl: url,
          replicas: config.replicas,
          minimum: 1,
          args: ['--feed', feed],
        });
        const pool = createPool(url, { max: 2, applicationName: 'hedge-bench-workload' });
        try {
          await ensureAdministrator(pool, dataDir);
          options.onProgress?.(`${config.name}: replaying ${options.file}…`);
          const summary = await replayWorkload({
            file: options.file,
            manager,
            feed,
            dataDir,
            mode: config.mode,
            concurrency: options.concurrency,
            outDir: join(options.outDir, config.name),
            overwrite: options.force ?? false,
          });
          const report = await verifyDatabase(pool);
          rows.push({
            ...summary,
            config: config.name,
            replicas: config.replicas,
            duplicate_effects: report.duplicate_effects,
            violations: report.violations.length,
          });
          options.onProgress?.(`${config.name}: ${summary.commands_per_s} commands/s`);
        } finally {
          await pool.end();
          await group.stopOne(name);
        }
      }
    } finally {
      await admin.end();
    }
  } finally {
    await group.stop();
  }
  return { machine: describeMachine(), file: options.file, rows };
}
