import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exited, spawnHedge } from '../src/common/hedge-process.js';
import { CLI_PATH, makeTempDataDir } from '../src/common/paths.js';
import { ROLES, rolesOfCertificate } from '../src/tls/certificates.js';
import { spawnInPty } from './support/pty.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `hedge <args>` as a person runs it on the system's host: no test CA
 * (HEDGE_TLS_DIR unset), so it finds its certificates in the data directory.
 */
function hedge(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_PATH, ...args],
      { env: { ...process.env, HEDGE_TLS_DIR: '', HEDGE_INSECURE: '' }, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe('hedge up makes a CA and a certificate per role; the commands present them', () => {
  let dataDir: string;
  let away: string;
  let up: ReturnType<typeof spawnHedge>;
  let managerAddress: string;

  beforeAll(async () => {
    dataDir = makeTempDataDir('hedge-tls-up-');
    away = makeTempDataDir('hedge-tls-away-');
    up = spawnHedge(['up', '--data-dir', dataDir, '--feed-port', '0', '--manager-port', '0'], {
      output: 'ignore',
      env: { DATABASE_URL: '', HEDGE_TLS_DIR: '', HEDGE_INSECURE: '' },
      readyTimeoutMs: 60_000,
    });
    managerAddress = String((await up.ready).managerAddress);
  });

  afterAll(async () => {
    up.child.kill('SIGTERM');
    await exited(up.child);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(away, { recursive: true, force: true });
  });

  it('keeps the CA and one certificate per role in <data-dir>/tls, keys readable by the owner alone', () => {
    const tls = join(dataDir, 'tls');
    expect(mode(join(tls, 'ca.key'))).toBe(0o600);
    for (const role of ROLES) {
      const pem = join(tls, `${role}.pem`);
      expect(mode(pem)).toBe(0o600);
      expect(rolesOfCertificate(readFileSync(pem, 'utf8'))).toEqual([role]);
    }
  });

  it('hedge status reads the status with the operator certificate; --insecure against it fails, no fallback', async () => {
    const ok = await hedge(['status', '--data-dir', dataDir, '--json']);
    expect(ok.stderr).toBe('');
    expect(JSON.parse(ok.stdout).replicas.filter((r: { spare: boolean }) => !r.spare).length).toBe(3);
    const plain = await hedge(['status', '--data-dir', dataDir, '--insecure']);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toContain('UNAVAILABLE');
  });

  it('hedge certs issue makes a certificate for another host that --ca/--cert present from anywhere', async () => {
    const out = join(away, 'operator-host');
    const issued = await hedge([
      'certs',
      'issue',
      '--data-dir',
      dataDir,
      '--role',
      'operator',
      '--host',
      '10.9.8.7',
      '--host',
      'ops.example',
      '--out',
      out,
    ]);
    expect(issued.code).toBe(0);
    expect(issued.stdout).toContain('IP Address:10.9.8.7, DNS:ops.example, URI:hedge-role:operator');
    expect(mode(join(out, 'operator.pem'))).toBe(0o600);
    expect(existsSync(join(out, 'ca.crt'))).toBe(true);
    // The CA's key never leaves its host.
    expect(readdirSync(out).sort()).toEqual(['ca.crt', 'operator.pem']);
    // No data directory of the system here: only the flags say whom to trust and who this is.
    const flags = ['--data-dir', away, '--manager', managerAddress, '--ca', join(out, 'ca.crt')];
    const status = await hedge(['status', ...flags, '--cert', join(out, 'operator.pem'), '--json']);
    expect(status.stderr).toBe('');
    expect(JSON.parse(status.stdout).replicas.filter((r: { spare: boolean }) => !r.spare).length).toBe(3);

    const feedOut = join(away, 'feed-host');
    expect(
      (await hedge(['certs', 'issue', '--data-dir', dataDir, '--role', 'feed', '--out', feedOut])).code,
    ).toBe(0);
    const refused = await hedge(['status', ...flags, '--cert', join(feedOut, 'feed.pem')]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('PERMISSION_DENIED');
    expect(refused.stderr).toContain(
      "GetStatus needs a certificate with the role client or operator or injector; the caller's has feed",
    );
  });

  it('hedge certs issue refuses an unknown role and, without the CA key, says where certificates are issued', async () => {
    const unknown = await hedge(['certs', 'issue', '--data-dir', dataDir, '--role', 'root', '--out', away]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('unknown role root');
    const noKey = await hedge([
      'certs',
      'issue',
      '--tls-dir',
      join(away, 'operator-host'),
      '--role',
      'client',
    ]);
    expect(noKey.code).not.toBe(0);
    expect(noKey.stderr).toContain('no CA key in');
  });
});

describe('hedge bench --tls-cost', () => {
  it('refuses --insecure (it compares the two itself) before starting anything', async () => {
    const out = makeTempDataDir('hedge-tls-cost-');
    try {
      const run = await hedge([
        'bench',
        '--tls-cost',
        '--insecure',
        '--configs',
        'single',
        '--out',
        join(out, 'r'),
      ]);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain('--tls-cost compares TLS with --insecure: leave --insecure off');
      expect(existsSync(join(out, 'r'))).toBe(false);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('hedge up --insecure', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = makeTempDataDir('hedge-tls-insecure-');
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('says so in the live view and on every log line, and the commands follow the running system', async () => {
    // Info level, so that every process writes lifecycle lines to check.
    const pty = spawnInPty(
      'env',
      [
        'HEDGE_LOG_LEVEL=info',
        process.execPath,
        CLI_PATH,
        'up',
        '--insecure',
        '--data-dir',
        dataDir,
        '--feed-port',
        '0',
        '--manager-port',
        '0',
      ],
      90_000,
    );
    try {
      await pty.expect(/TLS OFF \(--insecure\): plaintext gRPC, no certificates, no roles/);
      await pty.expect(/3\/3 replicas serving/);
      // hedge status finds the manager and that it is plaintext in its run file.
      const status = await hedge(['status', '--data-dir', dataDir, '--json']);
      expect(status.stderr).toBe('');
      expect(JSON.parse(status.stdout).replicas.filter((r: { spare: boolean }) => !r.spare).length).toBe(3);
      expect(existsSync(join(dataDir, 'tls'))).toBe(false);
    } finally {
      pty.type('\x03');
      await Promise.race([pty.exited, new Promise((r) => setTimeout(r, 30_000))]);
      pty.kill();
    }
    const logs = join(dataDir, 'logs');
    const files = readdirSync(logs).filter((f) => f.endsWith('.log'));
    expect(files).toEqual(expect.arrayContaining(['up.log', 'manager.log', 'feed.log']));
    for (const file of files) {
      const lines = readFileSync(join(logs, file), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'));
      expect({ file, lines: lines.length > 0 }).toEqual({ file, lines: true });
      for (const line of lines)
        expect({ file, tls: JSON.parse(line).tls }).toEqual({ file, tls: 'off (--insecure)' });
    }
  });
});
