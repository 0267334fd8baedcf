import { Command } from 'commander';
import { intOption } from '../common/cli-options.js';
import { inDataDir } from '../common/paths.js';
import type { RestartRound } from './manager-restart.js';
import { percentile } from './stats.js';

/** The command alone: its measurement (gRPC, the process group) loads when it runs, not with every hedge command. */
export function benchManagerRestartCommand(): Command {
  return new Command('bench-manager-restart')
    .description(
      'Measure how soon a restarted manager answers membership: SIGKILL the manager of a running system and ' +
        'start a new one on its port and data directory, --rounds times; prints each round and the medians (ms).',
    )
    .option('--rounds <n>', 'restarts to time', intOption(1, 100), 5)
    .option('--replicas <n>', 'replicas the manager adopts', intOption(1, 16), 3)
    .option('--data-dir <dir>', 'data directory (default: a temporary one, removed after)')
    .action(async (opts: { rounds: number; replicas: number; dataDir?: string }) => {
      const { measureManagerRestart } = await import('./manager-restart.js');
      const rounds = await inDataDir('hedge-bench-manager-', opts.dataDir, (dir) =>
        measureManagerRestart(dir, opts.replicas, opts.rounds),
      );
      for (const [i, r] of rounds.entries())
        process.stdout.write(`${JSON.stringify({ round: i + 1, ...r })}\n`);
      const med = (pick: (r: RestartRound) => number) =>
        Math.round(
          percentile(
            rounds.map(pick).sort((a, b) => a - b),
            0.5,
          ),
        );
      process.stdout.write(
        `${JSON.stringify({
          median_first_answer_ms: med((r) => r.firstAnswerMs),
          median_full_view_ms: med((r) => r.fullViewMs),
          median_ready_ms: med((r) => r.readyMs),
          median_client_watcher_ms: med((r) => r.watcherMs),
        })}\n`,
      );
    });
}
