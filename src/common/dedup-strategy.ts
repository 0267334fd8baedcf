/**
 * 'cache': the first copy of a request claims its id and does the work; later
 *   copies wait on the claim and read the stored response.
 * 'abort': the seed's baseline without a response cache: every copy does the work,
 *   and a copy that then loses the id rolls its work back and reads the stored response.
 *
 * A replica runs one; the manager and the benchmarks choose it for the replicas they start.
 */
export type DedupStrategy = 'cache' | 'abort';
export const DEDUP_STRATEGIES: readonly DedupStrategy[] = ['cache', 'abort'];
