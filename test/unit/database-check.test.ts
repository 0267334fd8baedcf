import { expect, it } from 'vitest';
import { databaseCheckOutcome } from '../../src/bench/database-check.js';

// A real duplicate or violation cannot be produced cheaply (the system prevents them), so the
// decision bench and bench-workload take from their summaries is tested on its own.
it('a benchmark fails when any run’s database check found a duplicate or a violation, and says which', () => {
  const clean = { run: 'active · none', duplicates: 0, violations: 0 };
  expect(databaseCheckOutcome([])).toEqual({ exitCode: 0, messages: [] });
  expect(databaseCheckOutcome([clean, { ...clean, run: 'passive' }])).toEqual({ exitCode: 0, messages: [] });
  expect(
    databaseCheckOutcome([
      clean,
      { run: 'active · crash', duplicates: 2, violations: 1 },
      { run: 'passive', duplicates: 0, violations: 3 },
      { run: 'single', duplicates: 1, violations: 0 },
    ]),
  ).toEqual({
    exitCode: 1,
    messages: [
      'the database check after active · crash failed: 2 duplicated requests, 1 violated check',
      'the database check after passive failed: 0 duplicated requests, 3 violated checks',
      'the database check after single failed: 1 duplicated request, 0 violated checks',
    ],
  });
});
