import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { makeTempDataDir } from '../common/paths.js';
import { resolveDataDir, resolveSetting, type Setting } from '../common/settings.js';
import type { Role } from './certificates.js';
import { ensureTlsDir, type Identity, identityFromFiles, loadIdentity, tlsDirOf } from './tls-dir.js';
import { type Transport, useTransport } from './transport.js';

/**
 * The TLS settings, read as every setting is (flag > environment > the running
 * system's run file > default), and which certificate each command presents.
 */
export const INSECURE: Setting<boolean> = {
  flag: '--insecure',
  description:
    'turn TLS off: plaintext gRPC, no certificates, no roles (every process of the system must agree; ' +
    'says so in every log line)',
  parse: (text) => text === 'true' || text === '1',
  env: 'HEDGE_INSECURE',
  runFile: ['manager', 'insecure'],
  default: 'false',
};

export const TLS_DIR: Setting<string> = {
  flag: '--tls-dir <dir>',
  description: 'the CA and the certificates (hedge up makes them)',
  parse: String,
  env: 'HEDGE_TLS_DIR',
  otherwise: '<data-dir>/tls',
};

export const TLS_CA: Setting<string> = {
  flag: '--ca <file>',
  description: 'CA certificate to trust, for a remote system (with --cert and --key)',
  parse: String,
  env: 'HEDGE_TLS_CA',
};

export const TLS_CERT: Setting<string> = {
  flag: '--cert <file>',
  description: 'certificate to present (may hold its key too), for a remote system',
  parse: String,
  env: 'HEDGE_TLS_CERT',
};

export const TLS_KEY: Setting<string> = {
  flag: '--key <file>',
  description: "the certificate's private key (default: in the --cert file)",
  parse: String,
  env: 'HEDGE_TLS_KEY',
};

/** The certificate each command presents, and whether it makes the CA when there is none. */
export const COMMAND_IDENTITY: Readonly<
  Record<string, { roles: Role[]; makesCa?: boolean; ownTlsDir?: boolean }>
> = {
  up: { roles: ['operator'], makesCa: true },
  replica: { roles: ['replica'], makesCa: true },
  manager: { roles: ['manager'], makesCa: true },
  feed: { roles: ['feed'], makesCa: true },
  // The manager's hands on a host: it acts only for the manager, and is called only by it.
  agent: { roles: ['manager'] },
  trade: { roles: ['client'] },
  status: { roles: ['operator'] },
  inject: { roles: ['injector'] },
  // A workload ends with the administrator's DUMPLOG of the whole log.
  workload: { roles: ['client', 'operator'] },
  // A benchmark runs its own system (or drives a running one): trades, reads status, injects faults.
  bench: { roles: ['client', 'operator', 'injector'], ownTlsDir: true },
  'bench-replica': { roles: ['client', 'operator', 'injector'], ownTlsDir: true },
  'bench-workload': { roles: ['client', 'operator'], ownTlsDir: true },
  // Its own system: reads the manager's status and membership.
  'bench-manager-restart': { roles: ['client', 'operator'], ownTlsDir: true },
};

interface TransportCliOptions {
  insecure?: boolean;
  tlsDir?: string;
  ca?: string;
  cert?: string;
  key?: string;
  dataDir?: string;
  /** `hedge bench --target`: the running system's certificates, not a CA of the benchmark's own. */
  target?: boolean;
}

/** Adds --insecure, --tls-dir, --ca, --cert and --key to a command that opens channels or serves. */
export function addTransportOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        INSECURE.flag,
        `${INSECURE.description} (default: $HEDGE_INSECURE, else the running system's, else off)`,
      ),
    )
    .addOption(
      new Option(TLS_DIR.flag, `${TLS_DIR.description} (default: $HEDGE_TLS_DIR, else <data-dir>/tls)`),
    )
    .addOption(new Option(TLS_CA.flag, `${TLS_CA.description} (default: $HEDGE_TLS_CA)`))
    .addOption(new Option(TLS_CERT.flag, `${TLS_CERT.description} (default: $HEDGE_TLS_CERT)`))
    .addOption(new Option(TLS_KEY.flag, `${TLS_KEY.description}`));
}

/**
 * Sets this process's transport from a command's options (before its action
 * runs): --insecure, else the certificate given by --ca/--cert/--key, else the
 * one for the command's roles in the TLS directory. A spawner's children inherit
 * the choice through the environment, so the whole system agrees.
 */
export async function configureTransportFor(
  name: string,
  opts: TransportCliOptions,
): Promise<Transport | undefined> {
  const wanted = COMMAND_IDENTITY[name];
  // A process that opens no channel (hedge db) still says, on its log lines, that its system runs without TLS.
  if (!wanted) return INSECURE.parse(process.env.HEDGE_INSECURE ?? '') ? use({ insecure: true }) : undefined;
  const dataDir = resolveDataDir(opts.dataDir);
  // A benchmark's own system follows no running system's run file.
  const ownSystem = wanted.ownTlsDir === true && !opts.target;
  const insecure = await resolveSetting(
    INSECURE,
    opts.insecure ? true : undefined,
    ownSystem ? {} : { dataDir },
  );
  if (insecure) {
    process.env.HEDGE_INSECURE = '1';
    return use({ insecure: true });
  }
  const certPath = await resolveSetting(TLS_CERT, opts.cert);
  if (certPath !== undefined) {
    const caPath = await resolveSetting(TLS_CA, opts.ca);
    if (caPath === undefined)
      throw new Error('--cert needs --ca (the CA certificate that signed the servers)');
    return use({
      insecure: false,
      identity: identityFromFiles(caPath, certPath, await resolveSetting(TLS_KEY, opts.key)),
    });
  }
  let tlsDir = await resolveSetting(TLS_DIR, opts.tlsDir);
  if (tlsDir === undefined && ownSystem && opts.dataDir === undefined) {
    // A benchmark's own system, in a data directory of its own making: a CA for this run only,
    // shared with its processes through the environment.
    tlsDir = join(makeTempDataDir('hedge-bench-tls-'), 'tls');
    const made = dirname(tlsDir);
    process.on('exit', () => rmSync(made, { recursive: true, force: true }));
    process.env.HEDGE_TLS_DIR = tlsDir;
  }
  tlsDir = resolve(tlsDir ?? tlsDirOf(dataDir));
  if (wanted.makesCa || wanted.ownTlsDir) {
    ensureTlsDir(tlsDir);
    // The processes it starts find the same CA, whatever their --data-dir.
    process.env.HEDGE_TLS_DIR = tlsDir;
  }
  return use({ insecure: false, identity: loadIdentity(tlsDir, wanted.roles) });
}

function use(transport: Transport): Transport {
  useTransport(transport);
  return transport;
}

export type { Identity };
