import { execFileSync, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { PACKAGE_ROOT } from '../common/paths.js';
import { DELAY_TABLE, type DelayScope } from './host-delay-rules.js';

/** The compiled process that delays a host's traffic from inside its namespace (host-delay-process.ts). */
const HOST_DELAY_PROCESS = resolve(PACKAGE_ROOT, 'dist/fault-injector/host-delay-process.js');
const READY_MS = 15_000;

/** A delay under way on a simulated host; `stop` restores the host. */
export interface HostDelay {
  /** The proxy's connections closed, its rules removed, the proxy gone. */
  stop(): Promise<void>;
  /** The proxy's pid (in the host's namespace). */
  pid: number;
}

/** How long the proxy has to close its connections before it is killed. */
const STOP_MS = 5_000;

/** Why a delay cannot be made on this machine, if it cannot: nft is needed. */
export function missingNft(): string | undefined {
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'the delay fault needs nft (nftables), which is not installed: as root, apt-get install nftables (or bash scripts/setup-hosts.sh)';
  }
}

function removeTable(namespace: string): void {
  try {
    execFileSync('ip', ['netns', 'exec', namespace, 'nft', 'delete', 'table', 'ip', DELAY_TABLE], {
      stdio: 'ignore',
    });
  } catch {
    // Gone already (the proxy removed it, or the namespace is gone).
  }
}

/**
 * Adds `delayMs` to every chunk of every TCP connection other hosts make to
 * the host at `address` (namespace `namespace`), and with scope `all` of those
 * it makes to other hosts, each way, from now until `stop`: its established
 * ones are reset to make them reconnect through the proxy. A child of this process, which dies with it (its stdin closes).
 */
export async function startHostDelay(
  namespace: string,
  address: string,
  delayMs: number,
  scope: DelayScope = 'all',
): Promise<HostDelay> {
  const missing = missingNft();
  if (missing) throw new Error(missing);
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      namespace,
      process.execPath,
      HOST_DELAY_PROCESS,
      address,
      String(Math.round(delayMs)),
      scope,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // The proxy closes its connections while the NAT that maps them is still there (their FINs
  // reach the peers under the ports they dialled), then removes the rules; killed if it lingers.
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_MS);
      await exited;
      clearTimeout(timer);
    }
    removeTable(namespace);
  };
  try {
    await new Promise<void>((ready, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`the delay proxy was not ready in ${READY_MS} ms`)),
        READY_MS,
      );
      createInterface({ input: child.stdout }).once('line', (line) => {
        clearTimeout(timer);
        if (line === 'ready') ready();
        else fail(new Error(`the delay proxy said: ${line}`));
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        fail(err);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`the delay proxy exited (${code}): ${stderr.trim() || 'no message'}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  // Its later complaints (a refresh that failed) go where the injector's own do.
  child.stderr.on('data', (d) => process.stderr.write(`host delay ${address}: ${String(d)}`));
  return { stop, pid: child.pid ?? 0 };
}
