import { readFileSync } from 'node:fs';
import { commandLine } from './process-state.js';

/** Guards against a recycled pid: only a hedge replica process is ever signalled by pid alone. */
export function isHedgeReplica(pid: number): boolean {
  const argv = commandLine(pid);
  return argv.some((a) => a.endsWith('cli.js')) && argv.includes('replica');
}

/** The process's resident memory (/proc/<pid>/statm's second field, in pages), or undefined if it is gone. */
export function residentBytes(pid: number): number | undefined {
  try {
    const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    return Number.isFinite(pages) ? pages * PAGE_BYTES : undefined;
  } catch {
    return undefined;
  }
}

/** Linux's page size on the platforms hedge runs on (x86-64, arm64 with 4 KiB pages). */
const PAGE_BYTES = 4096;
