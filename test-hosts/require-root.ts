import { requireRoot, sweepStaleRuns } from '../src/hosts/netns.js';

/** Fails the run, rather than skipping it, off root; removes what crashed runs left behind. */
export default function setup(): void {
  requireRoot();
  sweepStaleRuns();
}
