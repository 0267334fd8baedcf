import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { CLI_PATH } from './paths.js';

/** What a hedge process sends its parent once it serves. */
export interface ReadyMessage {
  type: 'ready';
  pid: number;
  /** host:port of its gRPC server, when it has one. */
  address?: string;
  /** Anything else the parent needs (the database URL, for `hedge db`). */
  [key: string]: unknown;
}

/** Tells the parent (over the IPC channel it opened) that this process serves. */
export function reportReady(fields: Omit<ReadyMessage, 'type' | 'pid'>): void {
  process.send?.({ type: 'ready', pid: process.pid, ...fields } satisfies ReadyMessage);
}

/**
 * Ties this process's life to its parent's: the parent hands it a pipe as stdin
 * and never writes to it; the kernel closes that pipe when the parent dies, by
 * any signal, SIGKILL included, and then `onLost` runs. A no-op unless the parent
 * asked for it (HEDGE_LIFELINE=stdin).
 */
function watchLifeline(onLost: () => void): void {
  if (process.env.HEDGE_LIFELINE !== 'stdin') return;
  process.stdin.on('end', onLost);
  process.stdin.on('error', onLost);
  process.stdin.resume();
}

export interface SpawnedHedgeProcess {
  child: ChildProcess;
  ready: Promise<ReadyMessage>;
}

export interface HedgeSpawnOptions {
  env?: NodeJS.ProcessEnv;
  /** Die with the parent (see watchLifeline). */
  lifeline?: boolean;
  /** Survive the parent: own process group, no lifeline. */
  detached?: boolean;
  /** Where stdout and stderr go: a file descriptor, 'inherit' or 'ignore'. */
  output?: number | 'inherit' | 'ignore';
  /** How long to wait for the ready message. */
  readyTimeoutMs?: number;
  /** A command that runs node in turn (e.g. `ip netns exec <namespace>`, which execs it: same pid). */
  wrapper?: string[];
}

/** Starts `hedge <args>` (the compiled CLI) and waits for it to report ready. */
export function spawnHedge(args: string[], options: HedgeSpawnOptions = {}): SpawnedHedgeProcess {
  const output = options.output ?? 'inherit';
  // Set or cleared for every child: inherited from a parent that has one, it would
  // make a child without a lifeline pipe stop at once.
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, HEDGE_LIFELINE: 'stdin' };
  if (!options.lifeline) delete env.HEDGE_LIFELINE;
  const spawnOptions: SpawnOptions = {
    stdio: [options.lifeline ? 'pipe' : 'ignore', output, output, 'ipc'],
    detached: options.detached ?? false,
    env,
  };
  // HEDGE_CPU_PROF_DIR: profile every hedge process (NODE_OPTIONS may not carry --cpu-prof).
  const profile = process.env.HEDGE_CPU_PROF_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.HEDGE_CPU_PROF_DIR}`]
    : [];
  const [command, ...prefix] = [...(options.wrapper ?? []), process.execPath];
  const child = spawn(command as string, [...prefix, ...profile, CLI_PATH, ...args], spawnOptions);
  const ready = new Promise<ReadyMessage>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      // The caller gets no handle to a process that never became ready: it is not left running.
      // (An up killed like this takes its children with it: they watch their owner.)
      child.kill('SIGKILL');
      reject(
        new Error(`hedge ${args[0]} did not report ready within ${options.readyTimeoutMs ?? 30_000} ms`),
      );
    }, options.readyTimeoutMs ?? 30_000);
    const onMessage = (m: unknown) => {
      if (typeof m === 'object' && m !== null && (m as ReadyMessage).type === 'ready') {
        cleanup();
        resolve(m as ReadyMessage);
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      cleanup();
      reject(new Error(`hedge ${args[0]} exited before it was ready (code ${code}, signal ${signal})`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
  // The caller decides what a failed start means; an unobserved rejection must not crash it.
  ready.catch(() => {});
  return { child, ready };
}

/** Resolves when the child has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child is gone. */
export async function stopChild(
  child: ChildProcess,
  graceMs = 10_000,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = exited(child);
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/**
 * Runs `stop` once on SIGTERM, SIGINT or the loss of the lifeline, then exits.
 * A second signal while stopping exits at once. Given `onSigterm`, SIGTERM runs
 * that instead (a manager under a lease hands its replicas over).
 */
export function stopOnSignals(
  stop: () => Promise<void>,
  onError: (err: unknown) => void = () => {},
  onSigterm: () => Promise<void> = stop,
): void {
  let stopping = false;
  const handler = (how: () => Promise<void>) => () => {
    if (stopping) process.exit(1);
    stopping = true;
    how().then(
      () => process.exit(0),
      (err: unknown) => {
        onError(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler(onSigterm));
  process.on('SIGINT', handler(stop));
  watchLifeline(handler(stop));
}

/**
 * Calls `onLost` once the process `pid` is gone (checked every `intervalMs`).
 * Replicas are detached so that they survive their manager; this ties them to
 * the process that owns the whole system (`hedge up`) instead.
 */
export function watchOwner(pid: number, onLost: () => void, intervalMs = 500): void {
  const timer = setInterval(() => {
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') {
        clearInterval(timer);
        onLost();
      }
    }
  }, intervalMs);
  timer.unref();
}
