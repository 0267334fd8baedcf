import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Long enough for a client's retries of one request (its deadline is 5 s by default). */
const KEEP_MS = 30_000;
const MAX_ENTRIES = 10_000;

/**
 * The sign-ins this replica answered with success lately: request id → a keyed
 * digest of the password. A retry of the same request (a passive client's attempt
 * timed out while the first was still running, and it asks again) then finds the
 * answer stored and needs no second scrypt to know its password is the one that
 * was checked. The key is random and lives in this process only, and a process
 * already holds the passwords it is sent, so nothing here is weaker than
 * the process itself. Nothing is kept on disk or in the database.
 */
export class RecentSignIns {
  private readonly key = randomBytes(32);
  private readonly entries = new Map<string, { digest: Buffer; atMs: number }>();

  private digest(requestId: string, password: string): Buffer {
    return createHmac('sha256', this.key).update(requestId).update('\0').update(password).digest();
  }

  remember(requestId: string, password: string): void {
    if (this.entries.size >= MAX_ENTRIES) this.forgetOld();
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(requestId, { digest: this.digest(requestId, password), atMs: Date.now() });
  }

  /** Whether this replica answered `requestId` with success for this same password lately. */
  answered(requestId: string, password: string): boolean {
    const entry = this.entries.get(requestId);
    if (!entry || Date.now() - entry.atMs > KEEP_MS) return false;
    return timingSafeEqual(entry.digest, this.digest(requestId, password));
  }

  private forgetOld(): void {
    const cutoff = Date.now() - KEEP_MS;
    for (const [id, e] of this.entries) if (e.atMs < cutoff) this.entries.delete(id);
  }
}
