import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { DelayProxy } from './delay-proxy.js';
import {
  DELAY_SCOPES,
  DELAY_TABLE,
  type DelayScope,
  DIAL_PORTS,
  delayTableRules,
} from './host-delay-rules.js';

/**
 * The delay fault's process, run inside the delayed host's network namespace
 * (`ip netns exec`) by host-delay.ts: `node host-delay-process.js <address> <delay ms> <all|incoming>`.
 *
 * Both ways of the host's link. In: every TCP port listening on the host (its
 * agent, its replicas, whatever starts there later) gets a DelayProxy
 * listener, and an nft NAT rule redirects new connections from other hosts to
 * that port to the proxy, which dials the port itself over the host's own
 * address (local traffic, which the prerouting hook never sees). Out: every
 * destination off the host that the host's processes hold a connection to
 * (the database, the feeds, ...) gets a listener on 127.0.0.1, and an output
 * rule redirects the host's new connections to that destination there; the
 * proxy dials the destination from a port of DIAL_PORTS, which the rule leaves
 * alone (not with scope `incoming`). NAT applies to new connections only, so a port's or destination's
 * established connections are reset (`ss -K`) as soon as it is mapped: they
 * reconnect, through the proxy. The sockets are read again every REFRESH_MS,
 * so replicas started or stopped during the delay are mapped and unmapped, and
 * a destination first dialled during the delay goes through the proxy from
 * then on (its first connection reset within REFRESH_MS).
 *
 * It prints one line, `ready`, once the ports listening when it started are
 * mapped; it undoes everything (the table, its listeners and connections) and
 * exits on SIGTERM, SIGINT or the end of its stdin (the injector gone).
 */
const REFRESH_MS = 200;
/** Time for the proxied connections' closing handshakes before the NAT that maps them goes. */
const CLOSING_MS = 300;
const run = promisify(execFile);

const [address, delayArg, scope] = process.argv.slice(2);
const delayMs = Number(delayArg);
if (!address || !Number.isFinite(delayMs) || delayMs < 0 || !DELAY_SCOPES.includes(scope as DelayScope)) {
  process.stderr.write('usage: host-delay-process.js <address> <delay ms> <all|incoming>\n');
  process.exit(2);
}
const proxy = new DelayProxy(delayMs);
/** Each delayed port's proxy listener. */
const mapped = new Map<number, number>();
/** Each delayed destination's (`address:port`) proxy listener on 127.0.0.1. */
const mappedOut = new Map<string, number>();
let nextDialPort = DIAL_PORTS.first;
/** The next port of DIAL_PORTS to dial from, round: one is in use again only 10,000 connections later. */
function dialFrom(): { address: string; port: number } {
  const port = nextDialPort;
  nextDialPort = port === DIAL_PORTS.last ? DIAL_PORTS.first : port + 1;
  return { address: address as string, port };
}
let stopping = false;

async function nft(...args: string[]): Promise<void> {
  await run('nft', args);
}

/** `host:port` (or `[v6]:port`) split. */
function endpoint(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(text.slice(at + 1)) };
}

const isLoopback = (host: string) =>
  host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.');

/** Every listening TCP port, and those on the host's address (or every address), the proxy's own left out. */
async function listeningPorts(): Promise<{ all: Set<number>; delayed: Set<number> }> {
  const { stdout } = await run('ss', ['-tlnH']);
  const proxied = new Set(mapped.values());
  const all = new Set<number>();
  const delayed = new Set<number>();
  for (const line of stdout.split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    if (!local) continue;
    const { host, port } = endpoint(local);
    if (!Number.isInteger(port)) continue;
    all.add(port);
    const reachable = host === address || host === '*' || host === '0.0.0.0' || host === '::';
    if (reachable && !proxied.has(port)) delayed.add(port);
  }
  return { all, delayed };
}

/**
 * The destinations off the host its processes are connected to (not an
 * answer of a listening port's, nor the proxy's own dialling).
 */
async function outgoingDestinations(
  listening: Set<number>,
): Promise<Map<string, { host: string; port: number }>> {
  const { stdout } = await run('ss', ['-4tnH', 'state', 'established']);
  const found = new Map<string, { host: string; port: number }>();
  for (const line of stdout.split('\n')) {
    const [localText, peerText] = line.trim().split(/\s+/).slice(2);
    if (!localText || !peerText) continue;
    const local = endpoint(localText);
    const peer = endpoint(peerText);
    const dialling = local.port >= DIAL_PORTS.first && local.port <= DIAL_PORTS.last;
    if (listening.has(local.port) || dialling || isLoopback(local.host) || isLoopback(peer.host)) continue;
    if (peer.host === address || !Number.isInteger(peer.port)) continue;
    found.set(`${peer.host}:${peer.port}`, peer);
  }
  return found;
}

/** Resets the connections other hosts made to `port` before it was mapped (the proxy's own are local). */
async function resetDirect(port: number): Promise<void> {
  await run('ss', ['-K', '-tn', 'state', 'established', `( sport = :${port} ) and not dst ${address}`]);
}

/** Resets the host's connections to `destination` made before it was mapped (not the proxy's own). */
async function resetOutgoing(destination: { host: string; port: number }): Promise<void> {
  const { first, last } = DIAL_PORTS;
  await run('ss', [
    '-K',
    '-tn',
    'state',
    'established',
    `( dst ${destination.host} and dport = :${destination.port} ) and ( sport < :${first} or sport > :${last} )`,
  ]);
}

async function refresh(): Promise<void> {
  const { all, delayed: ports } = await listeningPorts();
  const outgoing = scope === 'all' ? await outgoingDestinations(all) : new Map();
  for (const [key, destination] of outgoing) {
    if (mappedOut.has(key) || stopping) continue;
    const via = await proxy.listen('127.0.0.1', destination, dialFrom);
    mappedOut.set(key, via);
    await nft(
      'add',
      'element',
      'ip',
      DELAY_TABLE,
      'out',
      `{ ${destination.host} . ${destination.port} : ${via} }`,
    );
    await resetOutgoing(destination);
  }
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
    await nft('flush', 'map', 'ip', DELAY_TABLE, 'out').catch(() => {});
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
  const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
    .trim()
    .split(/\s+/)
    .map(Number);
  if ((low ?? 0) <= DIAL_PORTS.last) {
    throw new Error(
      `the host's ephemeral ports start at ${low}: the proxy dials from ${DIAL_PORTS.first}-${DIAL_PORTS.last}, which must lie below them`,
    );
  }
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
