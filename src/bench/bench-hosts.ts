import { join } from 'node:path';
import { createNetwork, type SimulatedNetwork } from '../common/netns.js';
import type { ProcessGroup } from '../common/process-group.js';
import { issueHostTlsDir } from '../tls/host-tls-dir.js';
import { localHosts, readAuthority } from '../tls/tls-dir.js';
import { currentTransport } from '../tls/transport.js';

/**
 * `hedge bench --hosts N`: N simulated hosts (network namespaces, as root), an
 * agent on each, and the rest (database, feeds, manager, the bench's clients)
 * in the root namespace on the bridge, as a fourth host. With TLS on, every
 * host has certificates of its own naming its address, issued from the bench's
 * CA, as `hedge certs issue` makes them for real hosts.
 */
export interface BenchHosts {
  network: SimulatedNetwork;
  /** The root namespace's address on the bridge: where the database, feeds and manager listen. */
  gateway: string;
  /** Environment of the root namespace's servers (their TLS directory, naming the gateway). */
  rootEnv: NodeJS.ProcessEnv;
  /** Starts the agents (the database URL must be the gateway's); the manager's --agents value. */
  startAgents(group: ProcessGroup, databaseUrl: string): Promise<string>;
  /** The host's agent again, on its port (a crashed host coming back up: nothing of the old runs there). */
  restartAgent(group: ProcessGroup, databaseUrl: string, name: string): Promise<void>;
  /** Removes the namespaces and links (idempotent; also on exit and on SIGINT/SIGTERM). */
  teardown(): void;
}

const HOST_NAMES = (n: number) => Array.from({ length: n }, (_, i) => `h${i + 1}`);

export function createBenchHosts(count: number, dataDir: string): BenchHosts {
  const network = createNetwork(HOST_NAMES(count));
  // Nothing left behind, however the bench ends: teardown is synchronous, so it runs from 'exit' too.
  const onSignal = (signal: NodeJS.Signals) => {
    network.teardown();
    // As the signal's default would, but through the 'exit' handlers (the bench's own CA is removed there).
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  };
  const teardown = () => {
    process.off('exit', teardown);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    network.teardown();
  };
  process.once('exit', teardown);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const transport = currentTransport();
    const tlsDirOf = (host: string) => join(dataDir, 'hosts-tls', host);
    let rootEnv: NodeJS.ProcessEnv = {};
    const hostEnv = new Map<string, NodeJS.ProcessEnv>();
    if (!transport.insecure) {
      const authority = readAuthority(process.env.HEDGE_TLS_DIR ?? '');
      rootEnv = {
        HEDGE_TLS_DIR: issueHostTlsDir(
          authority,
          tlsDirOf('root'),
          [['manager'], ['feed']],
          [...localHosts(), network.gateway],
        ),
      };
      for (const host of network.hosts) {
        const dir = issueHostTlsDir(
          authority,
          tlsDirOf(host.name),
          [['manager'], ['replica']],
          [host.address],
        );
        hostEnv.set(host.name, { HEDGE_TLS_DIR: dir });
      }
    }
    const ports = new Map<string, number>();
    const startAgent = async (group: ProcessGroup, databaseUrl: string, name: string, port: number) => {
      const host = network.host(name);
      const ready = await group.start(
        `agent-${name}`,
        ['agent', '--name', name, '--host', host.address, '--port', String(port), '--data-dir', dataDir],
        { DATABASE_URL: databaseUrl, ...hostEnv.get(name) },
        ['ip', 'netns', 'exec', host.namespace],
      );
      return String(ready.address);
    };
    return {
      network,
      gateway: network.gateway,
      rootEnv,
      startAgents: async (group, databaseUrl) => {
        for (const host of network.hosts) {
          const address = await startAgent(group, databaseUrl, host.name, 0);
          ports.set(host.name, Number(address.slice(address.lastIndexOf(':') + 1)));
        }
        return network.hosts.map((h) => `${h.name}=${h.address}:${ports.get(h.name)}`).join(',');
      },
      restartAgent: async (group, databaseUrl, name) => {
        await startAgent(group, databaseUrl, name, ports.get(name) ?? 0);
      },
      teardown,
    };
  } catch (err) {
    teardown();
    throw err;
  }
}
