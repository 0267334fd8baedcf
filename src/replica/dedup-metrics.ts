import type { Counter } from 'prom-client';
import { counter } from '../common/registered-metrics.js';

/** How a copy found its request id (executed_request.dedup, migrations/005). */
export type DedupOutcome = 'claimed' | 'waited' | 'replayed' | 'tied';

const outcomes = counter(
  'hedge_dedup_outcomes_total',
  "Requests by how this replica's copy found the request id: claimed (did the work), waited (on another copy's claim), replayed (the stored answer), tied (answered at once: a tied sibling was executing it)",
  ['outcome'],
);

const bound: Record<string, Counter.Internal> = {
  claimed: outcomes.labels('claimed'),
  waited: outcomes.labels('waited'),
  replayed: outcomes.labels('replayed'),
  tied: outcomes.labels('tied'),
};
// Every outcome present from the start, at 0, so that rate() over it is defined before the first request.
for (const child of Object.values(bound)) child.inc(0);

/** Counts one copy's outcome; NULL (a session that does not exist claims nothing) is not counted. */
export function countDedup(outcome: string | null | undefined): void {
  if (outcome) bound[outcome]?.inc();
}
