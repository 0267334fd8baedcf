import { requireRoot, sweepStaleRuns } from '../src/common/netns.js';

/** Fails the run, rather than skipping it, off root; removes what crashed runs left behind. */
export default function setup(): void {
  requireRoot();
  sweepStaleRuns();
}
