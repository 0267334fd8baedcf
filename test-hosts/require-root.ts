import { requireRoot, sweepStaleRuns } from '../src/common/netns.js';
import { missingNft } from '../src/fault-injector/host-delay.js';

/** Fails the run, rather than skipping it, off root or without nft; removes what crashed runs left behind. */
export default function setup(): void {
  requireRoot();
  const missing = missingNft();
  if (missing) throw new Error(missing);
  sweepStaleRuns();
}
