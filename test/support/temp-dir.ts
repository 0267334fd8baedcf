import { rmSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { makeTempDataDir } from '../../src/common/paths.js';

/**
 * A temporary directory for the enclosing describe block, removed with all it
 * holds after the block's tests. Made in beforeAll, not at collection: a run that
 * filters the block out runs no hook to remove it. `path` is empty until then.
 */
export function useTempDir(prefix: string): { readonly path: string } {
  const dir = { path: '' };
  beforeAll(() => {
    dir.path = makeTempDataDir(prefix);
  });
  afterAll(() => {
    if (dir.path) rmSync(dir.path, { recursive: true, force: true });
  });
  return dir;
}
