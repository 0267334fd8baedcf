/**
 * Every PostgreSQL advisory lock hedge takes, in one place so the keys stay
 * distinct. Arbitrary but fixed: all hedge processes of one database agree.
 */
export const ADVISORY_LOCKS = {
  /** Held while migrating: replicas start together and exactly one migrates. */
  migration: 4_681_215_001,
  /** The request-log reaper: every replica runs it, one at a time. */
  reaper: 4_681_215_002,
  /** The expired-order sweeper, likewise. */
  orderSweeper: 4_681_215_003,
} as const;
