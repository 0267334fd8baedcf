import { describe, expect, it } from 'vitest';
import { exited, spawnHedge } from '../../src/common/hedge-process.js';
import { useTempDir } from '../support/temp-dir.js';

describe('spawnHedge', () => {
  const dataDir = useTempDir('hedge-spawn-test-');

  it('kills a process that does not report ready in time: the caller, given no ready process, cannot', async () => {
    // 1 ms: shorter than any Node process takes to start, so the feed is never ready in time.
    const { child, ready } = spawnHedge(['feed', '--data-dir', dataDir.path, '--port', '0'], {
      readyTimeoutMs: 1,
    });
    await expect(ready).rejects.toThrow(/did not report ready within 1 ms/);
    await exited(child);
    expect(child.signalCode).toBe('SIGKILL');
  });
});
