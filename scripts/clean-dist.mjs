// A stale file in dist/ from a renamed module would still be importable; start clean.
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
