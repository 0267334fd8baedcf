import { describe, expect, it } from 'vitest';
import { RecentSignIns } from '../../src/replica/recent-sign-ins.js';

describe('RecentSignIns', () => {
  it('knows a request it answered only with the password it checked', () => {
    const recent = new RecentSignIns();
    expect(recent.answered('r1', 'secret one')).toBe(false);
    recent.remember('r1', 'secret one');
    expect(recent.answered('r1', 'secret one')).toBe(true);
    expect(recent.answered('r1', 'secret two')).toBe(false);
    expect(recent.answered('r2', 'secret one')).toBe(false);
  });

  it('is its own process’s: another instance (another replica) knows nothing of it', () => {
    const a = new RecentSignIns();
    a.remember('r1', 'pw');
    expect(new RecentSignIns().answered('r1', 'pw')).toBe(false);
  });
});
