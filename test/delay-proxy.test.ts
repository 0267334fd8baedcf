import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { DelayProxy } from '../src/fault-injector/delay-proxy.js';

const DELAY_MS = 50;

async function listening(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

async function open(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** Everything `socket` reads until its peer ends it. */
function readAll(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  return new Promise((resolve) => socket.once('end', () => resolve(Buffer.concat(chunks))));
}

async function fastestRoundTrip(socket: Socket, n: number): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const back = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write('x');
    await back;
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

describe('DelayProxy (real sockets on loopback)', () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  let proxy: DelayProxy | undefined;
  afterEach(() => {
    proxy?.close();
    for (const s of sockets) s.destroy();
    for (const s of servers) s.close();
  });

  it('a round trip through it is longer by at least the delay each way than one without it', async () => {
    const echo = createServer((c) => c.on('error', () => {}).pipe(c));
    servers.push(echo);
    const port = await listening(echo);
    proxy = new DelayProxy(DELAY_MS);
    const via = await proxy.listen('127.0.0.1', { host: '127.0.0.1', port });
    const direct = await open(port);
    const proxied = await open(via);
    sockets.push(direct, proxied);
    const without = await fastestRoundTrip(direct, 5);
    const through = await fastestRoundTrip(proxied, 5);
    // A lower bound only: each way holds the byte for the delay.
    expect(through - without).toBeGreaterThanOrEqual(2 * DELAY_MS - 2);
  });

  it('keeps the order of many chunks both ways, delivers an end after the data before it, and close() drops its connections', async () => {
    // The server answers each byte stream with its reverse once the client has ended its side.
    const reverser = createServer({ allowHalfOpen: true }, (c) => {
      c.on('error', () => {});
      void readAll(c).then((all) => c.end(Buffer.from(all).reverse()));
    });
    servers.push(reverser);
    const port = await listening(reverser);
    proxy = new DelayProxy(DELAY_MS);
    const via = await proxy.listen('127.0.0.1', { host: '127.0.0.1', port });
    const client = connect({ host: '127.0.0.1', port: via, allowHalfOpen: true });
    sockets.push(client);
    const answer = readAll(client);
    const sent: number[] = [];
    for (let i = 0; i < 2_000; i++) {
      const chunk = Buffer.from(`${i},`);
      sent.push(...chunk);
      client.write(chunk);
      if (i % 100 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    client.end();
    expect([...(await answer)]).toEqual(sent.reverse());

    const held = await open(via);
    sockets.push(held);
    const closed = new Promise<void>((resolve) => held.once('close', () => resolve()));
    held.on('error', () => {});
    for (let i = 0; i < 100 && proxy.connections === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(proxy.connections).toBeGreaterThan(0);
    proxy.close();
    await closed;
    await expect(open(via)).rejects.toThrow(/ECONNREFUSED/);
  });
});
