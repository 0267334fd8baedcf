import { type ChildProcess, execFileSync } from 'node:child_process';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { createNetwork, type SimulatedHost, type SimulatedNetwork } from '../src/common/netns.js';
import { isAlive } from '../src/common/process-state.js';
import { startHostDelay } from '../src/fault-injector/host-delay.js';
import {
  echoServer,
  fastestRoundTrip,
  listening,
  openSocket,
  roundTrip,
  useSockets,
} from '../test/support/sockets.js';

const DELAY_MS = 100;

/** An echo server inside `host` on its address; its port. */
async function echoIn(network: SimulatedNetwork, host: SimulatedHost, children: ChildProcess[]) {
  const script = `const s = require('net').createServer((c) => c.on('error', () => {}).pipe(c));
    s.listen(0, '${host.address}', () => console.log(s.address().port));`;
  const child = network.spawnIn(host, process.execPath, ['-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve),
  );
  return Number(line);
}

const closed = (socket: Socket) =>
  new Promise<void>((resolve) => {
    if (socket.destroyed) resolve();
    socket.once('close', () => resolve());
  });

/**
 * A client inside `host` of an echo server at `address`:`port`: it prints its
 * fastest of 5 round trips, then, whenever its connection is closed under it,
 * `reset`, reconnects and prints its fastest again.
 */
function echoClientIn(network: SimulatedNetwork, host: SimulatedHost, address: string, port: number) {
  const script = `const net = require('net');
    const trip = (s) => new Promise((r) => { const t = performance.now(); s.once('data', () => r(performance.now() - t)); s.write('x'); });
    const go = () => { const s = net.connect(${port}, '${address}');
      s.on('error', () => {});
      s.once('connect', async () => { let best = Infinity; for (let i = 0; i < 5; i++) best = Math.min(best, await trip(s)); console.log(best); });
      s.once('close', () => { console.log('reset'); setTimeout(go, 50); }); };
    go();`;
  const child = network.spawnIn(host, process.execPath, ['-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters.splice(0)) w();
  });
  const next = async (): Promise<string> => {
    while (lines.length === 0) await new Promise<void>((r) => waiters.push(r));
    return lines.shift() as string;
  };
  return { child, next };
}

const tables = (host: SimulatedHost) =>
  execFileSync('ip', ['netns', 'exec', host.namespace, 'nft', 'list', 'tables'], { encoding: 'utf8' });

describe('the delay fault on a simulated host (an nft redirect to a delaying proxy)', () => {
  let network: SimulatedNetwork | undefined;
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children) c.kill('SIGKILL');
    network?.teardown();
    network = undefined;
  });
  // Registered after, so run first: the sockets and the server are closed before the network goes.
  const { sockets, servers } = useSockets();

  it('resets the connections to and from the host, delays each way what reconnects and what listens later, and stop leaves nothing', async () => {
    network = createNetwork(['a']);
    const host = network.host('a');
    const port = await echoIn(network, host, children);
    const direct = await openSocket(host.address, port);
    sockets.push(direct);
    const before = await fastestRoundTrip(direct, 5);
    // And a connection the host makes: to an echo server off the host (the gateway, as the database is).
    const echo = echoServer();
    servers.push(echo);
    const outbound = echoClientIn(network, host, network.gateway, await listening(echo, network.gateway));
    children.push(outbound.child);
    const outBefore = Number(await outbound.next());

    const delay = await startHostDelay(host.namespace, host.address, DELAY_MS);
    expect(tables(host)).toContain('hedge_delay');
    // Established before the delay: reset, so that the peer reconnects through the proxy.
    await closed(direct);
    const proxied = await openSocket(host.address, port);
    sockets.push(proxied);
    // Each chunk waits the delay each way: a round trip pays it twice. A lower bound only.
    const during = await fastestRoundTrip(proxied, 5);
    expect(during - before).toBeGreaterThanOrEqual(2 * DELAY_MS - 5);
    // The host's own connection out: reset, and through the proxy once it reconnects.
    expect(await outbound.next()).toBe('reset');
    expect(Number(await outbound.next()) - outBefore).toBeGreaterThanOrEqual(2 * DELAY_MS - 5);

    // A port that starts listening during the delay is delayed too, once the proxy has read it.
    const later = await echoIn(network, host, children);
    let laterTrip = 0;
    for (let i = 0; i < 50 && laterTrip < 2 * DELAY_MS - 5; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const socket = await openSocket(host.address, later);
      sockets.push(socket);
      laterTrip = await roundTrip(socket);
      socket.destroy();
    }
    expect(laterTrip).toBeGreaterThanOrEqual(2 * DELAY_MS - 5);

    await delay.stop();
    await closed(proxied);
    // Closed by the proxy as it stopped, the host's connection out comes back direct.
    expect(await outbound.next()).toBe('reset');
    expect(Number(await outbound.next())).toBeGreaterThan(0);
    expect(tables(host)).not.toContain('hedge_delay');
    for (let i = 0; i < 100 && isAlive(delay.pid); i++) await new Promise((r) => setTimeout(r, 50));
    expect(isAlive(delay.pid)).toBe(false);
    const after = await openSocket(host.address, port);
    sockets.push(after);
    // Direct again: the proxy is gone and the rules with it, and the port answers.
    expect(await roundTrip(after)).toBeGreaterThan(0);
  });

  it('with scope incoming, only the connections made to the host go through the proxy', async () => {
    network = createNetwork(['a']);
    const host = network.host('a');
    const port = await echoIn(network, host, children);
    const echo = echoServer();
    servers.push(echo);
    const outbound = echoClientIn(network, host, network.gateway, await listening(echo, network.gateway));
    children.push(outbound.child);
    await outbound.next();
    const delay = await startHostDelay(host.namespace, host.address, DELAY_MS, 'incoming');
    const proxied = await openSocket(host.address, port);
    sockets.push(proxied);
    expect(await fastestRoundTrip(proxied, 3)).toBeGreaterThanOrEqual(2 * DELAY_MS - 5);
    // Several of the proxy's rounds later, the host's connection out is still the one it had.
    await new Promise((r) => setTimeout(r, 1_000));
    const map = execFileSync(
      'ip',
      ['netns', 'exec', host.namespace, 'nft', 'list', 'map', 'ip', 'hedge_delay', 'out'],
      { encoding: 'utf8' },
    );
    expect(map).not.toContain('elements');
    await delay.stop();
    expect(tables(host)).not.toContain('hedge_delay');
    // It was never reset: the client printed nothing since its first round trips.
    outbound.child.kill('SIGKILL');
    expect(await Promise.race([outbound.next(), new Promise((r) => setTimeout(() => r('none'), 200))])).toBe(
      'none',
    );
  });
});
