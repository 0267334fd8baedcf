import { Command } from 'commander';
import { REPLICATION_MODES, type ReplicationMode } from '../client/replication-mode.js';
import { choiceOption, defaulted, intOption, positiveDurationOption } from '../common/cli-options.js';
import { serveMetricsIfAsked, withMetricsOptions } from '../common/metrics-options.js';
import { withRunningSystemOptions } from '../common/running-system-options.js';
import { FEED_ADDRESS, MANAGER_ADDRESS, requireSetting, resolveDataDir } from '../common/settings.js';
import { textTable } from '../ui/text-table.js';
import type { ReplaySummary } from './replay.js';

interface WorkloadCliOptions {
  metricsPort?: number;
  metricsHost?: string;
  dataDir?: string;
  manager?: string;
  feed?: string;
  mode: ReplicationMode;
  concurrency: number;
  out: string;
  deadline: number;
  adminPasswordFile?: string;
  json?: boolean;
  force?: boolean;
}

/** Skipped lines shown in the human summary (all of them are in --json). */
const SKIPPED_SHOWN = 20;

/** The human summary: the totals, the refusals by command and reason, and the lines skipped. */
function summaryText(s: ReplaySummary): string {
  const skipped = s.skipped === 0 ? '' : `; ${s.skipped} line${s.skipped === 1 ? '' : 's'} skipped`;
  let text =
    `${s.commands} commands (${s.users} users, ${s.mode}) in ${s.seconds} s: ` +
    `${s.commands_per_s} commands/s; ${s.ok} ok, ${s.errors} refused, ` +
    `${s.infra_failures} infrastructure failures${skipped}; sign-in took ${s.setup_seconds} s` +
    `${s.log ? `; log written to ${s.log}` : ''}\n`;
  if (s.refusals.length > 0) {
    const rows = s.refusals.map((r) => [r.count, r.command, r.reason, r.message]);
    text += `\nrefused, by command and reason:\n${textTable(['count', 'command', 'reason', 'for example'], rows, [1, 2, 3])}\n`;
  }
  if (s.skipped_lines.length > 0) {
    text += '\nskipped, not a workload command:\n';
    for (const l of s.skipped_lines.slice(0, SKIPPED_SHOWN))
      text += `  line ${l.line}: ${JSON.stringify(l.text)}\n`;
    if (s.skipped > SKIPPED_SHOWN)
      text += `  … and ${s.skipped - SKIPPED_SHOWN} more (--json lists them all)\n`;
  }
  return text;
}

export function workloadCommand(): Command {
  return withRunningSystemOptions(
    withMetricsOptions(new Command('workload'))
      .argument('<file>', 'a SEng 468 workload file ([N] COMMAND,args… per line)')
      .description(
        'Replay a SEng 468 workload file through the replicated client: each user’s commands in file order, users in ' +
          'parallel, transactionNum = the line’s [N]; the final DUMPLOG writes the whole audit log (XML, logfile.xsd) ' +
          'under --out. Workload users are registered (or log in) with passwords derived from <data-dir>/workload-secret; ' +
          'the final DUMPLOG runs as the administrator (<data-dir>/admin-password, made by hedge up).',
      ),
    MANAGER_ADDRESS,
    FEED_ADDRESS,
  )
    .option('--mode <mode>', 'replication mode of the client', choiceOption(REPLICATION_MODES), 'active')
    .option('--concurrency <n>', 'users replayed at once', intOption(1, 10_000), 100)
    .option(
      '--out <dir>',
      'folder for the files DUMPLOG names (a file already there is refused before anything runs)',
      'workload-output',
    )
    .option('--force', 'overwrite files already in --out (an earlier run’s log)')
    .addOption(
      defaulted(
        '--deadline <duration>',
        'one deadline per command, across its attempts',
        positiveDurationOption,
        '10s',
      ),
    )
    .option(
      '--admin-password-file <path>',
      "the administrator's password (default: <data-dir>/admin-password)",
    )
    .option('--json', 'print the summary as JSON')
    .action(async (file: string, opts: WorkloadCliOptions) => {
      const { replayWorkload } = await import('./replay.js');
      const { readWorkload } = await import('./workload-file.js');
      // A file that is missing or not a workload is refused before the running system is even looked for.
      readWorkload(file);
      const dataDir = resolveDataDir(opts.dataDir);
      const tty = process.stderr.isTTY;
      let lastLine = 0;
      // The client library's figures (wins, losses, failures, fail-overs per replica), while this runs.
      const metrics = await serveMetricsIfAsked(opts, undefined);
      if (metrics) process.stderr.write(`client metrics: ${metrics.url}\n`);
      const summary = await replayWorkload({
        file,
        manager: await requireSetting(MANAGER_ADDRESS, opts.manager, { dataDir }),
        feed: await requireSetting(FEED_ADDRESS, opts.feed, { dataDir }),
        dataDir,
        adminPasswordFile: opts.adminPasswordFile,
        mode: opts.mode,
        concurrency: opts.concurrency,
        outDir: opts.out,
        overwrite: opts.force ?? false,
        deadlineMs: opts.deadline,
        onProgress: ({ done, total, infraFailures, elapsedMs }) => {
          const width = 30;
          const filled = Math.round((done / Math.max(total, 1)) * width);
          const line = `[${'='.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total} commands · ${(done / (elapsedMs / 1000)).toFixed(0)}/s · ${infraFailures} infrastructure failures`;
          if (tty) process.stderr.write(`\r\x1b[2K${line}`);
          else if (elapsedMs - lastLine >= 10_000) {
            lastLine = elapsedMs;
            process.stderr.write(`${line}\n`);
          }
        },
      });
      if (tty) process.stderr.write('\r\x1b[2K');
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      } else {
        process.stdout.write(summaryText(summary));
      }
      await metrics?.close();
      process.exitCode = summary.infra_failures > 0 ? 1 : 0;
    });
}
