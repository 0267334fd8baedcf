import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/common/paths.js';

// The test runner itself ends this way after a failed test: if loading the
// embedded PostgreSQL module turned it into 0, CI would pass whatever failed.
it('a process that loaded the embedded PostgreSQL keeps the exit code it set', () => {
  const module = pathToFileURL(join(PACKAGE_ROOT, 'dist/common/embedded-postgres.js')).href;
  const run = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `await import(${JSON.stringify(module)}); process.exitCode = 3;`],
    { encoding: 'utf8', timeout: 30_000 },
  );
  expect(run.stderr).toBe('');
  expect(run.status).toBe(3);
});
