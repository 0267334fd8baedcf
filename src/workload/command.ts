import { Command } from 'commander';
import { REPLICATION_MODES, type ReplicationMode } from '../client/replication-mode.js';
import { choiceOption, defaulted, durationOption, intOption } from '../common/cli-options.js';
import { resolveDataDir } from '../common/paths.js';
import { locate } from '../common/run-files.js';

interface WorkloadCliOptions {
  dataDir?: string;
  manager?: string;
  feed?: string;
  mode: ReplicationMode;
  concurrency: number;
  out: string;
  deadline: number;
  adminPasswordFile?: string;
  json?: boolean;
}

export function workloadCommand(): Command {
  return new Command('workload')
    .argument('<file>', 'a SEng 468 workload file ([N] COMMAND,args… per line)')
    .description(
      'Replay a SEng 468 workload file through the replicated client: each user’s commands in file order, users in ' +
        'parallel, transactionNum = the line’s [N]; the final DUMPLOG writes the whole audit log (XML, logfile.xsd) ' +
        'under --out. Workload users are registered (or log in) with passwords derived from <data-dir>/workload-secret; ' +
        'the final DUMPLOG runs as the administrator (<data-dir>/admin-password, made by hedge up).',
    )
    .option('--data-dir <dir>', 'data directory of the running system (default: $HEDGE_DATA_DIR or .hedge)')
    .option('--manager <address>', "the manager's address (default: the running system's)")
    .option('--feed <address>', "the stock feed's address (default: the running system's)")
    .option('--mode <mode>', 'replication mode of the client', choiceOption(REPLICATION_MODES), 'active')
    .option('--concurrency <n>', 'users replayed at once', intOption(1, 10_000), 100)
    .option('--out <dir>', 'folder for the files DUMPLOG names', 'workload-output')
    .addOption(
      defaulted(
        '--deadline <duration>',
        'one deadline per command, across its attempts',
        durationOption,
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
      const dataDir = resolveDataDir(opts.dataDir);
      const tty = process.stderr.isTTY;
      let lastLine = 0;
      const summary = await replayWorkload({
        file,
        manager: await locate(opts.manager, dataDir, 'manager', 'address', '--manager'),
        feed: await locate(opts.feed, dataDir, 'feed', 'address', '--feed'),
        dataDir,
        adminPasswordFile: opts.adminPasswordFile,
        mode: opts.mode,
        concurrency: opts.concurrency,
        outDir: opts.out,
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
        process.stdout.write(
          `${summary.commands} commands (${summary.users} users, ${summary.mode}) in ${summary.seconds} s: ` +
            `${summary.commands_per_s} commands/s; ${summary.ok} ok, ${summary.errors} refused, ` +
            `${summary.infra_failures} infrastructure failures; sign-in took ${summary.setup_seconds} s` +
            `${summary.log ? `; log written to ${summary.log}` : ''}\n`,
        );
      }
      process.exitCode = summary.infra_failures > 0 ? 1 : 0;
    });
}
