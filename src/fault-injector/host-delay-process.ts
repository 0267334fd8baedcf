import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DelayProxy } from './delay-proxy.js';
import { DELAY_TABLE, delayTableRules } from './host-delay-rules.js';

/**
 * The delay fault's process, run inside the delayed host's network namespace
 * (`ip netns exec`) by host-delay.ts: `node host-delay-process.js <address> <delay ms>`.
 *
 * Every TCP port listening on the host (its agent, its replicas, whatever
 * starts there later) gets a DelayProxy listener, and an nft NAT rule
 * redirects new connections from other hosts to that port to the proxy, which
 * dials the port itself over the host's own address (local traffic, which the
 * prerouting hook never sees). NAT applies to new connections only, so the
 * established connections from other hosts to a port are reset (`ss -K`) as
 * soon as it is mapped: peers reconnect, through the proxy. The listening
 * sockets are read again every REFRESH_MS, so replicas started or stopped during
 * the delay are mapped and unmapped.
 *
 * It prints one line, `ready`, once the ports listening when it started are
 * mapped; it undoes everything (the table, its listeners and connections) and
 * exits on SIGTERM, SIGINT or the end of its stdin (the injector gone).
 */
const REFRESH_MS = 200;
/** Time for the proxied connections' closing handshakes before the NAT that maps them goes. */
const CLOSING_MS = 300;
const run = promisify(execFile);

const [address, delayArg] = process.argv.slice(2);
const delayMs = Number(delayArg);
if (!address || !Number.isFinite(delayMs) || delayMs < 0) {
  process.stderr.write('usage: host-delay-process.js <address> <delay ms>\n');
  process.exit(2);
}
const proxy = new DelayProxy(delayMs);
/** Each delayed port's proxy listener. */
const mapped = new Map<number, number>();
let stopping = false;

async function nft(...args: string[]): Promise<void> {
  await run('nft', args);
}

/** The TCP ports listening on the host's address (or every address), the proxy's own left out. */
async function listeningPorts(): Promise<Set<number>> {
  const { stdout } = await run('ss', ['-tlnH']);
  const proxied = new Set(mapped.values());
  const ports = new Set<number>();
  for (const line of stdout.split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    if (!local) continue;
    const at = local.lastIndexOf(':');
    const host = local.slice(0, at).replace(/^\[|\]$/g, '');
    const port = Number(local.slice(at + 1));
    const reachable = host === address || host === '*' || host === '0.0.0.0' || host === '::';
    if (reachable && Number.isInteger(port) && !proxied.has(port)) ports.add(port);
  }
  return ports;
}

/** Resets the connections other hosts made to `port` before it was mapped (the proxy's own are local). */
async function resetDirect(port: number): Promise<void> {
  await run('ss', ['-K', '-tn', 'state', 'established', `( sport = :${port} ) and not dst ${address}`]);
}

async function refresh(): Promise<void> {
  const ports = await listeningPorts();
  for (const port of ports) {
    if (mapped.has(port) || stopping) continue;
    const via = await proxy.listen(address as string, { host: address as string, port });
    mapped.set(port, via);
    await nft('add', 'element', 'ip', DELAY_TABLE, 'ports', `{ ${port} : ${via} }`);
    await resetDirect(port);
  }
  for (const [port, via] of mapped) {
    if (ports.has(port) || stopping) continue;
    mapped.delete(port);
    await nft('delete', 'element', 'ip', DELAY_TABLE, 'ports', `{ ${port} }`).catch(() => {});
    proxy.unlisten(via);
  }
}

/**
 * New connections go direct at once (the map emptied); the proxied ones are
 * closed while the table, whose NAT they were made under, is still there: their
 * FINs leave under the ports the peers dialled (with the table gone, the peers
 * would see them from the proxy's port and never close). Then the table goes.
 */
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await nft('flush', 'map', 'ip', DELAY_TABLE, 'ports').catch(() => {});
    proxy.close();
    await new Promise((resolve) => setTimeout(resolve, CLOSING_MS));
    await nft('delete', 'table', 'ip', DELAY_TABLE).catch(() => {});
  }
  process.exit(code);
}

process.once('SIGTERM', () => void stop(0));
process.once('SIGINT', () => void stop(0));
process.stdin.on('data', () => {});
process.stdin.once('end', () => void stop(0));

try {
  await nft('delete', 'table', 'ip', DELAY_TABLE).catch(() => {});
  const rules = execFile('nft', ['-f', '-']);
  rules.stdin?.end(delayTableRules(address));
  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    rules.stderr?.on('data', (d) => {
      stderr += String(d);
    });
    rules.once('error', reject);
    rules.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nft: ${stderr.trim()}`))));
  });
  await refresh();
  process.stdout.write('ready\n');
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  await stop(1);
}

let refreshing = false;
setInterval(() => {
  if (refreshing) return;
  refreshing = true;
  refresh()
    .catch((err: Error) => process.stderr.write(`host delay: ${err.message}\n`))
    .finally(() => {
      refreshing = false;
    });
}, REFRESH_MS);
