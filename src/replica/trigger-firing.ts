import type { Pool } from '../common/database.js';

/** A signed tick, as triggers are fired from it. */
export interface Tick {
  symbol: string;
  priceCents: bigint;
  issuedAtMs: bigint;
  sequence: bigint;
  signature: Buffer;
}

export interface FiringResult {
  fired: number;
  failures: { trigger_id: string; sqlstate: string; message: string }[];
}

/** The triggers' SQL as the trigger watcher drives it (fire_triggers in sql/triggers.sql). */
export class TriggerFiring {
  constructor(
    private readonly pool: Pool,
    readonly replicaId: string,
  ) {}

  /** The symbols some armed trigger waits on. */
  async armedSymbols(): Promise<string[]> {
    const { rows } = await this.pool.query<{ symbol: string }>({
      name: 'armed_symbols',
      text: "SELECT DISTINCT symbol FROM triggers WHERE state = 'armed' ORDER BY symbol",
    });
    return rows.map((r) => r.symbol);
  }

  /**
   * Fires every armed trigger these ticks satisfy. Returns how many fired here,
   * and the triggers that failed: each failure undid that trigger alone, which
   * stays armed for a later tick.
   */
  async fireTriggers(ticks: Tick[]): Promise<FiringResult> {
    const { rows } = await this.pool.query<{ result: FiringResult }>({
      name: 'fire_triggers',
      text: 'SELECT fire_triggers($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bytea[], $6) AS result',
      values: [
        ticks.map((t) => t.symbol),
        ticks.map((t) => t.priceCents.toString()),
        ticks.map((t) => t.issuedAtMs.toString()),
        ticks.map((t) => t.sequence.toString()),
        ticks.map((t) => t.signature),
        this.replicaId,
      ],
    });
    return rows[0]?.result ?? { fired: 0, failures: [] };
  }
}
