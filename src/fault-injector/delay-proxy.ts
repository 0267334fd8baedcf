import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * A TCP forwarder that holds every chunk it reads for `delayMs` before writing
 * it on, in both directions, in order: a link's one-way latency, seen by the
 * bytes (a request and its answer each pay it once, a round trip twice). What
 * it does not model: the TCP handshake (the proxy accepts at once and dials
 * the target at once), loss, jitter, bandwidth; and the target sees the proxy's
 * address as its peer.
 */
export class DelayProxy {
  private readonly servers = new Map<number, Server>();
  /** Each proxied connection's two sockets, by the listener's port. */
  private readonly pairs = new Set<{ port: number; client: Socket; upstream: Socket }>();

  constructor(private readonly delayMs: number) {}

  /**
   * A listener on `host`:0 forwarding to `target`; its port. `dialFrom` binds
   * each upstream connection's local end (a rule may have to tell the proxy's
   * own connections from those it redirects to it).
   */
  async listen(
    host: string,
    target: { host: string; port: number },
    dialFrom?: () => { address: string; port: number },
  ): Promise<number> {
    let port = 0;
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
      const local = dialFrom?.();
      const upstream = connect({
        host: target.host,
        port: target.port,
        allowHalfOpen: true,
        noDelay: true,
        ...(local ? { localAddress: local.address, localPort: local.port } : {}),
      });
      const pair = { port, client, upstream };
      this.pairs.add(pair);
      const destroy = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      for (const socket of [client, upstream]) {
        // An end reset or failed, the other end is reset too. A clean close is each direction's
        // own end, delivered after its delay: the other socket closes once its queue is through.
        socket.on('error', destroy);
        socket.once('close', () => {
          if (client.destroyed && upstream.destroyed) this.pairs.delete(pair);
        });
      }
      this.delayed(client, upstream);
      this.delayed(upstream, client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    port = (server.address() as { port: number }).port;
    this.servers.set(port, server);
    return port;
  }

  /** Stops the listener on `port` and closes the connections it forwards. */
  unlisten(port: number): void {
    this.servers.get(port)?.close();
    this.servers.delete(port);
    for (const pair of [...this.pairs]) if (pair.port === port) this.drop(pair);
  }

  /** Every listener and every proxied connection closed. */
  close(): void {
    for (const server of this.servers.values()) server.close();
    this.servers.clear();
    for (const pair of [...this.pairs]) this.drop(pair);
  }

  /** Proxied connections open now. */
  get connections(): number {
    return this.pairs.size;
  }

  private drop(pair: { client: Socket; upstream: Socket }): void {
    pair.client.destroy();
    pair.upstream.destroy();
  }

  /** `from`'s bytes (and its end) reach `to` delayMs after they arrived, in order. */
  private delayed(from: Socket, to: Socket): void {
    // A bounded backlog: past it, `from` is paused until the queue drains (TCP's flow control does the rest).
    const HIGH_WATER = 4 * 1024 * 1024;
    const queue: { at: number; chunk: Buffer | null }[] = [];
    let queued = 0;
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && (queue[0] as { at: number }).at <= now) {
        const { chunk } = queue.shift() as { chunk: Buffer | null };
        if (chunk === null) {
          to.end();
        } else {
          queued -= chunk.length;
          to.write(chunk);
        }
      }
      if (queued < HIGH_WATER && from.isPaused()) from.resume();
      schedule();
    };
    const schedule = () => {
      const next = queue[0];
      if (timer || !next) return;
      // A timer may fire a little early: never before the chunk's time.
      timer = setTimeout(flush, Math.max(1, Math.ceil(next.at - performance.now())));
    };
    from.on('data', (chunk: Buffer) => {
      queue.push({ at: performance.now() + this.delayMs, chunk });
      queued += chunk.length;
      if (queued >= HIGH_WATER) from.pause();
      schedule();
    });
    from.on('end', () => {
      queue.push({ at: performance.now() + this.delayMs, chunk: null });
      schedule();
    });
    to.once('close', () => clearTimeout(timer));
  }
}
