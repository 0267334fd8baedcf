import { createServer } from 'node:net';

/**
 * Fails with a message naming the port and the flag that chooses another when
 * `port` cannot be listened on at `host`, before any process is started for it.
 * Port 0 (any free one) always passes.
 */
export async function assertPortFree(host: string, port: number, flag: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`port ${port} is in use; choose another with ${flag}`)
          : new Error(`cannot listen on ${host}:${port} (${err.message}); choose another with ${flag}`),
      ),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}
