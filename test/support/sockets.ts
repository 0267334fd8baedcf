import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach } from 'vitest';

/** A server that sends back whatever it reads (a peer's reset is no error of the test's). */
export const echoServer = (): Server => createServer((c) => c.on('error', () => {}).pipe(c));

/** Starts `server` on a free port of `host`; its port. */
export async function listening(server: Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as { port: number }).port;
}

/** A connection to `host`:`port`, without Nagle's delay (a round trip of one byte is what is timed). */
export async function openSocket(host: string, port: number): Promise<Socket> {
  const socket = connect({ host, port, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** One byte there and back over `socket` (to an echo server): its round trip in ms. */
export async function roundTrip(socket: Socket): Promise<number> {
  const start = performance.now();
  const back = new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.write('x');
  await back;
  return performance.now() - start;
}

/** The fastest of `n` round trips over `socket`. */
export async function fastestRoundTrip(socket: Socket, n: number): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) best = Math.min(best, await roundTrip(socket));
  return best;
}

/** The sockets and servers a test pushes here are destroyed and closed after it. */
export function useSockets(): { sockets: Socket[]; servers: Server[] } {
  const sockets: Socket[] = [];
  const servers: Server[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const s of servers.splice(0)) s.close();
  });
  return { sockets, servers };
}
