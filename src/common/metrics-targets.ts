import { join } from 'node:path';

/**
 * The directory whose files list every serving metrics endpoint, one file per
 * process, in Prometheus's file_sd format:
 * `file_sd_configs: [{ files: ['<data-dir>/metrics/*.json'] }]`.
 */
export function metricsTargetsDir(dataDir: string): string {
  return join(dataDir, 'metrics');
}
