import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../../src/', import.meta.url).pathname;

/** The folders of src/ that are one process (or one app) each. */
const PROCESSES = [
  'replica',
  'stock-feed',
  'replication-manager',
  'fault-injector',
  'client',
  'trade',
  'up',
  'bench',
  'workload',
  'verify',
  'ha',
  'agent',
];

/** Shared by every process; they import no process's module. */
const SHARED = ['common', 'ui', 'gen', 'tls'];

/**
 * The libraries apps may use, as folder or module (relative to src/) and who may
 * import it: the client library, and the two a benchmark runs in-process.
 */
const ALLOWED: { module: string; by: string[] }[] = [
  { module: 'client/', by: ['trade', 'up', 'bench', 'workload', 'fault-injector'] },
  // bench-workload replays a workload file exactly as hedge workload does.
  { module: 'workload/replay.ts', by: ['bench'] },
  { module: 'workload/workload-file.ts', by: ['bench'] },
  // The benchmark's fault runs drive the injector itself, to time each fault.
  { module: 'fault-injector/injector.ts', by: ['bench'] },
  // ... and names the delay's scopes in its own flags (a module of constants, light to load at start).
  { module: 'fault-injector/host-delay-rules.ts', by: ['bench'] },
  // hedge up --ha starts the Patroni cluster in-process, as it starts the embedded database.
  { module: 'ha/', by: ['up'] },
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/**
 * Static (`import … from`, `export … from`, `import '…'`, type-only ones too) and
 * dynamic (`import('…')`) imports. TypeScript 7 has no JavaScript API to parse
 * with, and src/ keeps its imports plain: comments are dropped first, so a
 * commented-out import does not count.
 */
const IMPORT =
  /\b(?:import|export)\s+(?:type\s+)?[\w*{}\s,$]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

/** Every relative module a file imports, relative to src/ (as .ts). */
function importsOf(file: string): string[] {
  const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
  return [...code.matchAll(IMPORT)]
    .map((m) => m[1] ?? m[2] ?? m[3] ?? '')
    .filter((name) => name.startsWith('.'))
    .map((name) => relative(SRC, resolve(dirname(file), name)).replace(/\.js$/, '.ts'));
}

const folderOf = (path: string): string => path.split('/')[0] ?? '';

function allowed(importer: string, imported: string): boolean {
  const from = folderOf(importer);
  const to = folderOf(imported);
  if (from === to || !PROCESSES.includes(to)) return true;
  return ALLOWED.some(
    (a) =>
      a.by.includes(from) && (a.module.endsWith('/') ? imported.startsWith(a.module) : imported === a.module),
  );
}

describe('module boundaries (processes talk only through proto/ and src/common/)', () => {
  const edges = sourceFiles(SRC).flatMap((file) => {
    const importer = relative(SRC, file);
    return importsOf(file).map((imported) => ({ importer, imported }));
  });

  it('reads the imports it checks', () => {
    expect(edges).toContainEqual({ importer: 'cli.ts', imported: 'replica/command.ts' });
    expect(edges).toContainEqual({ importer: 'bench/run-bench.ts', imported: 'client/replicated-client.ts' });
    // A type-only import, an import over several lines and a dynamic import are imports too.
    expect(edges).toContainEqual({ importer: 'replica/trading-service.ts', imported: 'replica/executor.ts' });
    expect(edges).toContainEqual({ importer: 'workload/replay.ts', imported: 'workload/workload-file.ts' });
    expect(edges).toContainEqual({ importer: 'up/command.ts', imported: 'up/run-up.ts' });
  });

  it('has no process module importing another process, or a shared module importing a process', () => {
    const crossing = edges
      .filter(({ importer, imported }) => {
        const from = folderOf(importer);
        if (SHARED.includes(from)) return PROCESSES.includes(folderOf(imported));
        return PROCESSES.includes(from) && !allowed(importer, imported);
      })
      .map(({ importer, imported }) => `${importer} -> ${imported}`);
    expect(crossing).toEqual([]);
  });

  it('knows every folder of src/ as a process or as shared', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.filter((f) => !PROCESSES.includes(f) && !SHARED.includes(f))).toEqual([]);
  });
});
