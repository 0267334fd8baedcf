import { blockResource } from './block-resource.js';
import { type ReplicaProcess, type ReplicaSetup, spawnReplica } from './replicas.js';
import { Trader, tradingClient } from './trader.js';

export interface TradingReplicas {
  /** `<prefix>-a`, `<prefix>-b`, `<prefix>-c`, as real child processes. */
  replicas: ReplicaProcess[];
  /** A trader with 100000.00 deposited, connected to replica `traderOn` alone. */
  trader: Trader;
}

/**
 * Three replica processes over `setup()` (read once the block's database and
 * feed are up) and a trader on one of them, for the enclosing describe block.
 * Stopped after its tests; SIGCONT first, so that a replica a test stopped can exit.
 */
export function useTradingReplicas(
  prefix: string,
  setup: () => ReplicaSetup & { feedAddress?: string },
  traderOn = 0,
): TradingReplicas {
  return blockResource(
    async () => {
      const started = await Promise.allSettled(
        ['a', 'b', 'c'].map((id) => spawnReplica(setup(), `${prefix}-${id}`)),
      );
      const replicas = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
      const failed = started.find((s) => s.status === 'rejected');
      if (failed) {
        // One that did not start takes none of the others with it: they are stopped here.
        await Promise.all(replicas.map((r) => r.stop()));
        throw failed.reason;
      }
      let trader: Trader | undefined;
      try {
        trader = await Trader.open(tradingClient(replicas[traderOn]?.address ?? ''));
        await trader.deposit('100000.00');
        return { replicas, trader };
      } catch (err) {
        trader?.client.close();
        await Promise.all(replicas.map((r) => r.stop()));
        throw err;
      }
    },
    async ({ replicas, trader }) => {
      for (const r of replicas) r.child.kill('SIGCONT');
      trader.client.close();
      await Promise.all(replicas.map((r) => r.stop()));
    },
  );
}
