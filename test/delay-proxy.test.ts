import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DelayProxy } from '../src/fault-injector/delay-proxy.js';
import { echoServer, fastestRoundTrip, listening, openSocket, useSockets } from './support/sockets.js';

const DELAY_MS = 50;

/** Everything `socket` reads until its peer ends it. */
function readAll(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  return new Promise((resolve) => socket.once('end', () => resolve(Buffer.concat(chunks))));
}

describe('DelayProxy (real sockets on loopback)', () => {
  const { sockets, servers } = useSockets();
  let proxy: DelayProxy | undefined;
  // Registered after useSockets's, so it runs first: the proxy closes before the sockets and servers do.
  afterEach(() => proxy?.close());

  it('a round trip through it is longer by at least the delay each way than one without it', async () => {
    const echo = echoServer();
    servers.push(echo);
    const port = await listening(echo);
    proxy = new DelayProxy(DELAY_MS);
    const via = await proxy.listen('127.0.0.1', { host: '127.0.0.1', port });
    const direct = await openSocket('127.0.0.1', port);
    const proxied = await openSocket('127.0.0.1', via);
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

    const held = await openSocket('127.0.0.1', via);
    sockets.push(held);
    const closed = new Promise<void>((resolve) => held.once('close', () => resolve()));
    held.on('error', () => {});
    for (let i = 0; i < 100 && proxy.connections === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(proxy.connections).toBeGreaterThan(0);
    proxy.close();
    await closed;
    await expect(openSocket('127.0.0.1', via)).rejects.toThrow(/ECONNREFUSED/);
  });
});
